# chatd_add_plugin(<kind>-<name> SOURCES ... [LIBS ...])
# Builds <kind>_<name>.so into ${CHATD_PLUGIN_OUTPUT_DIR} the way a third party
# would: it sees the SDK headers and nothing from core/.
function(chatd_add_plugin dir_name)
  cmake_parse_arguments(P "NO_INSTALL" "" "SOURCES;LIBS" ${ARGN})
  string(REPLACE "-" "_" target ${dir_name})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${target}
    LIBRARY_OUTPUT_DIRECTORY ${CHATD_PLUGIN_OUTPUT_DIR}
    C_VISIBILITY_PRESET hidden)
  target_include_directories(${target} PRIVATE ${CHATD_SDK_INCLUDE})
  target_link_libraries(${target} PRIVATE ${P_LIBS})
  if(NOT P_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/chatd/plugins)
  endif()
endfunction()
