# The Debian package (`make deb`): with CHATD_PACKAGE=ON the install also
# lays out what a system service needs, and cpack -G DEB wraps it:
#   /usr/bin/chatd, chatd-token        the daemon and the token tool
#   /usr/lib/<triplet>/chatd/plugins   the shipped plugins
#   /usr/include/chatd, chatd.pc       the SDK
#   /etc/chatd/chat.ini                the configuration (a conffile)
#   /lib/systemd/system/chatd.service  the unit
#   /usr/share/chatd/web               the web desk
#   /usr/share/doc/chatd               README and docs (with openapi.yaml, events.schema.json)
# The maintainer scripts in packaging/deb make the chatd user and
# /var/lib/chatd and start the service where systemd runs.
option(CHATD_PACKAGE "Install the configuration, systemd unit and web desk of a system package" OFF)
if(NOT CHATD_PACKAGE)
  return()
endif()

set(CHATD_WEB_ROOT ${CMAKE_INSTALL_FULL_DATADIR}/chatd/web)
set(CHATD_STATE_DIR /var/lib/chatd)
configure_file(${CMAKE_SOURCE_DIR}/packaging/deb/chat.ini.in ${CMAKE_BINARY_DIR}/package/chat.ini @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/package/chat.ini DESTINATION /etc/chatd)

# The unit as shipped in etc/, with the installed binary's path and without
# its notes on installing by hand (the package does that).
file(READ ${CMAKE_SOURCE_DIR}/etc/chatd.service CHATD_UNIT)
string(FIND "${CHATD_UNIT}" "[Unit]" CHATD_UNIT_START)
string(SUBSTRING "${CHATD_UNIT}" ${CHATD_UNIT_START} -1 CHATD_UNIT)
string(PREPEND CHATD_UNIT "# chatd as a systemd service, installed by the chatd package.\n# Settings: /etc/chatd/chat.ini; secrets: /etc/chatd/chatd.env.\n\n")
string(REPLACE "/usr/local/bin/chatd" "${CMAKE_INSTALL_FULL_BINDIR}/chatd" CHATD_UNIT "${CHATD_UNIT}")
file(WRITE ${CMAKE_BINARY_DIR}/package/chatd.service "${CHATD_UNIT}")
install(FILES ${CMAKE_BINARY_DIR}/package/chatd.service DESTINATION /lib/systemd/system)

# The web desk, with the npm files its pages load (`make web` fetches them).
set(CHATD_STOMPJS ${CMAKE_SOURCE_DIR}/examples/web/node_modules/@stomp/stompjs)
if(NOT EXISTS ${CHATD_STOMPJS}/bundles/stomp.umd.min.js OR
   NOT EXISTS ${CMAKE_SOURCE_DIR}/examples/web/node_modules/sockjs-client/dist/sockjs.min.js)
  message(FATAL_ERROR "examples/web/node_modules is missing: run `make web` before packaging")
endif()
if(NOT EXISTS ${CMAKE_SOURCE_DIR}/examples/web/widget.js)
  message(FATAL_ERROR "examples/web/widget.js (the support widget) is missing: run `make web` before packaging")
endif()
# The client package's modules the pages import (with stompjs's, and its LICENSE).
if(NOT EXISTS ${CMAKE_SOURCE_DIR}/examples/web/chatd-client/index.js)
  message(FATAL_ERROR "examples/web/chatd-client (the client package for the pages) is missing: run `make web` before packaging")
endif()
install(DIRECTORY ${CMAKE_SOURCE_DIR}/examples/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/chatd/web
        FILES_MATCHING PATTERN "*.html" PATTERN "*.js" PATTERN "*.css" PATTERN "LICENSE"
        PATTERN "node_modules" EXCLUDE PATTERN "package*.json" EXCLUDE)
install(FILES ${CHATD_STOMPJS}/bundles/stomp.umd.min.js
        DESTINATION ${CMAKE_INSTALL_DATADIR}/chatd/web/node_modules/@stomp/stompjs/bundles)
install(FILES ${CHATD_STOMPJS}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME stompjs.LICENSE)
# sockjs-client, for the Spring-style page (spring.html).
set(CHATD_SOCKJS ${CMAKE_SOURCE_DIR}/examples/web/node_modules/sockjs-client)
install(FILES ${CHATD_SOCKJS}/dist/sockjs.min.js
        DESTINATION ${CMAKE_INSTALL_DATADIR}/chatd/web/node_modules/sockjs-client/dist)
install(FILES ${CHATD_SOCKJS}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME sockjs-client.LICENSE)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
# With the REST API's OpenAPI description and the events' JSON Schema.
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md"
        PATTERN "openapi.yaml" PATTERN "events.schema.json")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME chatd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "chatd maintainers <chatd@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "chat server: STOMP over WebSocket and TCP, support desk, 1:1 and group rooms")
set(CPACK_PACKAGE_DESCRIPTION "chatd is a real-time chat server for customer support and 1:1 and group chat in web and mobile apps. It speaks STOMP 1.0-1.2 over WebSocket and TCP, keeps rooms and history in SQLite, Redis or PostgreSQL, spreads events between instances through a broker, and serves a web support desk.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/deb/conffiles
    ${CMAKE_SOURCE_DIR}/packaging/deb/postinst
    ${CMAKE_SOURCE_DIR}/packaging/deb/prerm
    ${CMAKE_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
