# The Debian package (cpack -G DEB in the build folder; scripts/package):
# the two programs, the bank holiday calendar, a default config in
# /etc/evenhand (a conffile: dpkg never overwrites a changed one), a
# hardened systemd unit, man pages made from --help, and maintainer
# scripts that create the evenhand user and keep /var/lib/evenhand across
# upgrades and even a purge. docs/OPERATIONS.md says how to install it.
include(GNUInstallDirs)

find_program(HELP2MAN help2man)
set(EVENHAND_MAN_DIR ${CMAKE_BINARY_DIR}/man)
if(HELP2MAN)
  add_custom_command(
    OUTPUT ${EVENHAND_MAN_DIR}/evenhandd.8.gz ${EVENHAND_MAN_DIR}/evenhand.1.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${EVENHAND_MAN_DIR}
    COMMAND ${HELP2MAN} --no-info --section=8 --version-string=${PROJECT_VERSION}
            --name=the\ Even\ Hand\ server --help-option=--help
            --output=${EVENHAND_MAN_DIR}/evenhandd.8 $<TARGET_FILE:evenhandd>
    COMMAND ${HELP2MAN} --no-info --section=1 --version-string=${PROJECT_VERSION}
            --name=the\ Even\ Hand\ command-line\ tool
            --output=${EVENHAND_MAN_DIR}/evenhand.1 $<TARGET_FILE:evenhand>
    COMMAND gzip -9nf ${EVENHAND_MAN_DIR}/evenhandd.8 ${EVENHAND_MAN_DIR}/evenhand.1
    DEPENDS evenhandd evenhand
    COMMENT "Man pages from --help (help2man)")
  add_custom_target(man_pages ALL
    DEPENDS ${EVENHAND_MAN_DIR}/evenhandd.8.gz ${EVENHAND_MAN_DIR}/evenhand.1.gz)
  install(FILES ${EVENHAND_MAN_DIR}/evenhandd.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
  install(FILES ${EVENHAND_MAN_DIR}/evenhand.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

install(TARGETS evenhandd evenhand RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/calendars/bank-holidays.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/evenhand)
# Every .proto a client is generated from, google/rpc's error details too.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/proto/ DESTINATION ${CMAKE_INSTALL_DATADIR}/evenhand/proto
        FILES_MATCHING PATTERN "*.proto")
install(FILES ${CMAKE_SOURCE_DIR}/deploy/grafana-dashboard.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/evenhand)
# The documents as the checkout lays them out, so that their links to each
# other (README.md -> docs/..., deploy/README.md -> ../docs/...), to the
# test vectors a verifier is written against (docs/vectors/), to the
# integrators' examples and to the .proto files hold (tests/package checks
# every link).
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/clients/examples DESTINATION ${CMAKE_INSTALL_DOCDIR}/clients
        PATTERN node_modules EXCLUDE)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/proto/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/proto
        FILES_MATCHING PATTERN "*.proto")
# SECURITY.md's "to try it on one machine" makes its certificates with it.
install(PROGRAMS ${CMAKE_SOURCE_DIR}/scripts/make-certs DESTINATION ${CMAKE_INSTALL_DOCDIR}/scripts)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}/deploy)
# Absolute: /etc and /lib/systemd whatever the prefix.
install(FILES ${CMAKE_SOURCE_DIR}/deploy/debian/evenhandd.json DESTINATION /etc/evenhand
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/debian/evenhandd.service
        DESTINATION /lib/systemd/system)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME evenhand)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Even Hand maintainers <evenhand@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "audit log and fairness reports of council member-officer relations")
set(CPACK_PACKAGE_DESCRIPTION
    "Even Hand keeps an append-only, hash-chained and Merkle-tree-signed log of the events of a council's member-officer relations protocol, and reports per political group on the access to officers each was offered and got, with findings where a rule was broken.")
# The binaries without their debug sections (the build keeps them).
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, procps, tzdata")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/deploy/debian/conffiles
    ${CMAKE_SOURCE_DIR}/deploy/debian/postinst
    ${CMAKE_SOURCE_DIR}/deploy/debian/prerm
    ${CMAKE_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
