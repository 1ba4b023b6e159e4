{
  "targets": [
    {
      "target_name": "cds_onednn",
      "sources": ["src/addon.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fno-math-errno", "-ffp-contract=off"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-ldnnl", "-fopenmp"],
      "conditions": [
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-O3"],
            "OTHER_LDFLAGS": ["-ldnnl"]
          },
          "cflags_cc!": ["-fopenmp"],
          "libraries!": ["-fopenmp"],
          "include_dirs": ["/opt/homebrew/include", "/usr/local/include"],
          "library_dirs": ["/opt/homebrew/lib", "/usr/local/lib"]
        }]
      ]
    }
  ]
}
