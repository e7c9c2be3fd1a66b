# ssu-kiosk: the self-service smartcard unlock kiosk.
#
#   make run     the demo: a virtual card, the identity service, the fleet server and the kiosk
#   make test    everything CI checks: vet, gofmt, unit, integration and fuzz-seed tests
#   make build   every binary in bin/ (bin/ssu-demo: the kiosk with the demo built in)
#   make bench   the figures the issues ask for
#
# On a fresh Debian 12 machine these install the Debian packages they need when run as root;
# otherwise they print the apt-get line to run and stop.

SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
# VERSION is what every binary, the .deb and the image say they are (computed only in image/version.sh;
# see package provisioning/version); image/build.sh reads it as SSU_VERSION.
VERSION ?= $(shell $(CURDIR)/image/version.sh)
export SSU_VERSION := $(VERSION)
LDFLAGS := -X ssu-kiosk/provisioning/version.value=$(VERSION)

# Debian packages: to build (cgo for PC/SC), and the real parts tests and the demo start.
DEB_BUILD := gcc pkg-config libpcsclite-dev
DEB_PCSC := pcscd vsmartcard-vpcd opensc yubico-piv-tool pcsc-tools
DEB_MQTT := mosquitto mosquitto-clients
# The fleet dashboard is tested in headless Chromium.
DEB_BROWSER := chromium
# The kiosk's display: Ebiten loads X11 and GL at run time; tests run it under Xvfb, driven by xdotool.
# mesa-utils: Ebiten runs glxinfo to choose GLX over EGL.
DEB_DISPLAY := xvfb xdotool libgl1 libgl1-mesa-dri libx11-6 libxrandr2 libxcursor1 libxinerama1 libxi6 mesa-utils
# The image's checks in make test build a small root with mmdebstrap and load its firewall in a namespace,
# lay out a small disk (GPT, GRUB EFI, FAT without loop devices) and build and check RAUC bundles.
DEB_IMAGE_TEST := systemd mmdebstrap nftables iproute2 uidmap arch-test e2fsprogs \
	gdisk fdisk dosfstools mtools grub-efi-amd64-bin grub-common rauc squashfs-tools openssl
# make image / make image-test: the disk image (compressed with zstd) and a qemu boot under UEFI (OVMF).
DEB_IMAGE := mmdebstrap e2fsprogs qemu-system-x86 openssh-client ovmf zstd
DEB_TEST := util-linux procps git
# Speech through a headset (kiosk/ui/speech): espeak-ng's English and Welsh voices, libasound for oto; aplay
# for checking what a test's ALSA file device caught.
DEB_SPEECH := espeak-ng libasound2 alsa-utils
DEB_ALL := $(DEB_BUILD) $(DEB_PCSC) $(DEB_MQTT) $(DEB_DISPLAY) $(DEB_BROWSER) $(DEB_SPEECH) $(DEB_IMAGE_TEST) $(DEB_TEST)
# Nothing extra for the benchmarks yet (Chromium is already in DEB_BROWSER).
DEB_BENCH :=

.PHONY: all deps deps-bench install-debs build test run bench vet fmt-check screenshots image image-test bundle clean

all: build

# deps installs whatever of DEB_ALL is missing (as root), or says how to.
deps:
	@$(MAKE) --no-print-directory install-debs PKGS="$(DEB_ALL)"

deps-bench: deps
	@$(MAKE) --no-print-directory install-debs PKGS="$(DEB_BENCH)"

install-debs:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	  else \
	    echo "missing Debian packages; run as root:"; \
	    echo "  apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

build: deps
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ $$($(GO) list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./...)
	$(GO) build -tags demo -ldflags "$(LDFLAGS)" -o $(BIN)/ssu-demo ./kiosk/cmd/ssu-kiosk

vet:
	$(GO) vet ./...
	$(GO) vet -tags demo ./kiosk/cmd/ssu-kiosk/

fmt-check:
	@bad=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	if [ -n "$$bad" ]; then echo "gofmt wants to change:"; echo "$$bad"; exit 1; fi

# test runs every package's tests with the race detector; fuzz targets run their seed corpora.
test: deps build fmt-check vet
	$(GO) test -race -count=1 -timeout 12m ./...

# bench prints the figures the issues ask for; each line names its issue.
BENCH = $(GO) test -count=1 -run '^$$' -benchtime 1x
bench: deps-bench build
	@echo "== issue 2: APDUs for a full unblock, ssu-ctl beside yubico-piv-tool"
	$(BENCH) -bench UnblockAPDUs ./provisioning/cmd/ssu-ctl/
	@echo "== issue 2: pcscd reporting a card present -> hal/card's CardInserted (time added)"
	$(BENCH) -bench CardInsertedLatency ./hal/card/
	@echo "== issue 3: session starts per second and full-session latency, load from a second process"
	$(BENCH) -bench BenchmarkIdentityService ./remote/cmd/ssu-idservice/
	@echo "== issue 5: 1,000 simulated kiosks against Mosquitto with mTLS; an idle agent's CPU and memory"
	$(BENCH) -bench . ./remote/fleet/sim/
	@echo "== issues 4, 15: idle CPU and RSS beside Chromium --kiosk, exec to first frame (production kiosk beside Chromium), card to next screen"
	$(BENCH) -bench . ./kiosk/cmd/ssu-kiosk/
	@echo "== issue 6: ingest of 1,000 simulated kiosks through Mosquitto beside mosquitto_sub's raw rate"
	$(BENCH) -bench BenchmarkIngest1000 ./remote/fleetserver/
	@echo "== issue 6: monthly report over 12 months x 60,000 sessions, SQLite and PostgreSQL"
	$(BENCH) -bench BenchmarkMonthlyReport ./remote/fleetserver/store/
	@echo "== issue 7: systemd-analyze security exposure of ssu-kiosk.service"
	$(BENCH) -bench KioskExposure ./image/

# run starts the demo: pcscd with a virtual reader, the demo cards, ssu-idservice in demo mode and the
# kiosk in a window (F2 inserts or removes the demo card, F3 picks the next one). ssu-demo is ssu-kiosk
# built with the demo tag; the production ssu-kiosk has no demo in it.
run: deps build
	$(BIN)/ssu-demo --demo

# screenshots regenerates the golden screenshots in testdata/kiosk/screens.
screenshots: deps
	$(GO) test -count=1 ./kiosk/ui/golden -run TestGolden -update

# image builds the kiosk's Debian 12 root with mmdebstrap, the project as a .deb (nfpm), and the disk
# image bin/image/ssu-kiosk-VERSION.img (GPT: GRUB on the ESP, root slots A and B, state) and .img.zst,
# bootable on a UEFI PC (see image/README.md). Run as root.
image: deps
	@$(MAKE) --no-print-directory install-debs PKGS="$(DEB_IMAGE)"
	image/build.sh image $(BIN)/image

# bundle: a signed RAUC update bundle of the image's root (bin/image/ssu-kiosk-VERSION.raucb); the
# development key is made in bin/rauc-dev on first use; SSU_RAUC_CERT/SSU_RAUC_KEY give the real one.
bundle: image
	image/build.sh bundle $(BIN)/image

# image-test boots the disk image in qemu under UEFI (OVMF): enrolled, until ssu-kiosk.service is ready, then
# checked over SSH; new, enrolling itself at first boot against ssu-fleetd --demo; and updated: a newer
# bundle to slot B, a power cut during an install, a bad bundle that falls back (slow; not in make test).
image-test: image
	$(GO) test -tags imageboot -count=1 -timeout 90m -run 'TestBootToReady|TestFirstBootEnrolment|TestUpdateAndFallback' -v ./image/

clean:
	rm -rf $(BIN)
