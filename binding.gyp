{
  "targets": [
    {
      "target_name": "nicring",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/options.cc",
        "native/watch.cc",
        "native/bpf.cc",
        "native/attachment.cc",
        "native/mapping.cc",
        "native/xdp.cc",
        "native/netmap.cc",
        "native/counter.cc",
        "native/affinity.cc",
        "native/clock.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2", "-fno-exceptions"]
    }
  ]
}
