# ddbench_mark_torch_free(<sources>...)
# A source whose first line is "// ddbench: torch-free" is compiled without LibTorch's precompiled
# header: measured on 2 cores, core/planned.cpp takes 3.9 s that way and 13 s with the header, and
# about a fifth of the library's files need no tensors (suite, plan data, store, check, reports).
# DDBENCH_TORCH_FREE turns an include of harness/types.h (LibTorch) into a compile error, so the
# marker stays true. Call it in the directory whose targets compile the sources.
function(ddbench_mark_torch_free)
  foreach(src ${ARGN})
    file(STRINGS ${src} first LIMIT_COUNT 1)
    if(first MATCHES "^// ddbench: torch-free")
      set_source_files_properties(${src} PROPERTIES SKIP_PRECOMPILE_HEADERS ON COMPILE_DEFINITIONS DDBENCH_TORCH_FREE)
    endif()
  endforeach()
endfunction()
