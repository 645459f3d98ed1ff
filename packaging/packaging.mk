# Packages: `make deb`, `make rpm`, `make package-test`. Included by the top-level Makefile.
# Both packages are built in a temporary copy of the project's files (git's list: tracked plus
# untracked-but-not-ignored), never in this tree's build/; only dist/ receives the results.
# See packaging/README.md.

DEB_PACKAGING += debhelper dpkg-dev fakeroot lintian rpm rpm2cpio systemd adduser man-db curl

PKG_NAME := influx-wal-relay
PKG_DIST ?= dist
PKG_RPM_RELEASE ?= 1
PKG_DEB_ARCH = $(shell dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null || dpkg --print-architecture)
PKG_RPM_ARCH = $(shell rpm --eval '%{_arch}' 2>/dev/null || uname -m)
PKG_DEB = $(PKG_DIST)/$(PKG_NAME)_$(VERSION)_$(PKG_DEB_ARCH).deb
PKG_RPM = $(PKG_DIST)/$(PKG_NAME)-$(VERSION)-$(PKG_RPM_RELEASE).$(PKG_RPM_ARCH).rpm

# $(call pkg_stage,DIR): copy the project's files into DIR (not build/, dist/ or .git).
define pkg_stage
	mkdir -p $(1); \
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard | \
		tar --null --ignore-failed-read -T - -cf - | tar -xf - -C $(1); \
	else \
		tar --exclude=./build --exclude=./dist --exclude=./.git -cf - . | tar -xf - -C $(1); \
	fi
endef

.PHONY: deb rpm package-test

deb: deps
	@set -eu; mkdir -p $(PKG_DIST); \
	tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/iwr-deb.XXXXXX"); src=$$tmp/$(PKG_NAME)-$(VERSION); \
	$(call pkg_stage,$$src); \
	cp -a packaging/debian $$src/debian; \
	top=$$(dpkg-parsechangelog -l $$src/debian/changelog -S Version); \
	if [ "$$top" != "$(VERSION)" ]; then \
		echo "note: packaging/debian/changelog is at $$top, VERSION is $(VERSION): adding an entry to the copy (add one to packaging/debian/changelog)"; \
		{ printf '%s (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n\n' \
			$(PKG_NAME) $(VERSION) $(VERSION) \
			"$$(dpkg-parsechangelog -l $$src/debian/changelog -S Maintainer)" "$$(date -R)"; \
		  cat $$src/debian/changelog; } > $$tmp/changelog && mv $$tmp/changelog $$src/debian/changelog; \
	fi; \
	echo "building $(PKG_DEB) in $$src (log: $$tmp/build.log)"; \
	if ! (cd $$src && dpkg-buildpackage -b -us -uc -j2) >$$tmp/build.log 2>&1; then \
		tail -40 $$tmp/build.log; echo "deb build failed; kept $$tmp"; exit 1; \
	fi; \
	cp $$tmp/$(PKG_NAME)_$(VERSION)_$(PKG_DEB_ARCH).deb $(PKG_DEB); \
	rm -rf $$tmp; \
	echo "built $(PKG_DEB)"

rpm: deps
	@set -eu; mkdir -p $(PKG_DIST); \
	tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/iwr-rpm.XXXXXX"); src=$$tmp/$(PKG_NAME)-$(VERSION); \
	$(call pkg_stage,$$src); \
	mkdir -p $$tmp/rpmbuild/SOURCES; \
	tar -C $$tmp -czf $$tmp/rpmbuild/SOURCES/$(PKG_NAME)-$(VERSION).tar.gz $(PKG_NAME)-$(VERSION); \
	echo "building $(PKG_RPM) (log: $$tmp/build.log)"; \
	if ! rpmbuild -bb --nodeps --define "_topdir $$tmp/rpmbuild" \
		--define "iwr_version $(VERSION)" --define "iwr_release $(PKG_RPM_RELEASE)" \
		packaging/rpm/$(PKG_NAME).spec >$$tmp/build.log 2>&1; then \
		tail -40 $$tmp/build.log; echo "rpm build failed; kept $$tmp"; exit 1; \
	fi; \
	cp $$tmp/rpmbuild/RPMS/$(PKG_RPM_ARCH)/$(PKG_NAME)-$(VERSION)-$(PKG_RPM_RELEASE).$(PKG_RPM_ARCH).rpm $(PKG_RPM); \
	rm -rf $$tmp; \
	echo "built $(PKG_RPM)"

# Builds both, then checks them: contents, lintian, the unpacked binaries, and a dpkg
# install / upgrade / remove / purge cycle (as root). Ends with "N passed, N failed".
package-test: deps
	@$(MAKE) --no-print-directory deb rpm
	@packaging/test_packages.sh $(PKG_DEB) $(PKG_RPM) $(VERSION)
