# Use ccache when present. The sloppiness settings let it cache translation units built with
# the precompiled header (it otherwise refuses them as uncacheable).
find_program(HFCPP_CCACHE ccache)
if(HFCPP_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      ${HFCPP_CCACHE})
endif()
