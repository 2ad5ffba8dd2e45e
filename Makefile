# pxekit — see README.md. `make demo` and `make test` do all set-up themselves.
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 10s
APT_PKGS  := qemu-system-x86 ipxe-qemu ipxe ovmf busybox-static cpio isc-dhcp-client udhcpc \
             tftp-hpa atftp curl kea-admin dnsmasq-base tftpd-hpa nginx-light iproute2 cloud-init ndisc6
# Running as a service: headless Chromium for the dashboard, promtool (in
# prometheus) for the metrics, systemd-analyze for the unit files.
APT_PKGS  += chromium prometheus systemd
# Several boot servers sharing one state: the etcd cluster of the etcdstore
# tests; also the store of the real API server (pxe/kubevirt, manifest tests).
APT_PKGS  += etcd-server
# The storm test boots machines over relayed subnets against Kea too.
APT_PKGS  += kea-dhcp4-server
# Secure Boot: the signed shim and network GRUB the boot server serves, sbsigntool (sbverify and
# sbattach check the unsigned kernel copy), mtools and dosfstools read the boot disk images back.
APT_PKGS  += shim-signed grub-efi-amd64-signed sbsigntool mtools dosfstools

.PHONY: all build test test-short fmt-check vet lint fuzz bench bench-deps demo deps testdeps clean
.PHONY: kvoracle kvoracle-long kvoracle-fuzz sriovoracle

all: build

build:
	$(GO) build ./...

## deps: Debian packages the tests and the demo use (root only; idempotent).
deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=$$(for p in $(APT_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  fi; \
	else echo "not root: skipping apt-get install of $(APT_PKGS)"; fi

## testdeps: packages, QEMU 10 from backports (igb SR-IOV), the guest
## kernels and kube-apiserver (cached in .cache/, gitignored).
testdeps: deps
	@if [ "$$(id -u)" = 0 ]; then ./scripts/add-backports.sh; fi
	@./scripts/fetch-kernel.sh cloud bpo
	@GO=$(GO) ./scripts/build-kube-apiserver.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

lint: fmt-check vet

## test: what CI runs after .ci/run's installs.
# Tests keep what a person looks at afterwards (the dashboard's screenshots)
# in bench/out/artifacts; CI prints where.
PXEKIT_ARTIFACTS ?= $(CURDIR)/bench/out/artifacts
export PXEKIT_ARTIFACTS

test: testdeps fmt-check vet
	$(GO) test -race -count=1 -timeout 45m $(PKGS)
	@$(MAKE) --no-print-directory kvoracle
	@$(MAKE) --no-print-directory sriovoracle
	@$(MAKE) --no-print-directory fuzz FUZZTIME=5s

## fuzz: every Fuzz target, briefly (scripts/fuzz.sh).
fuzz:
	@FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh

## bench: Go benchmarks, then pxekit vs Kea/dnsmasq/tftpd-hpa/atftpd side by
## side in netns (root; table on stdout, results.md/json + chart.svg in bench/out/).
bench: bench-deps
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	$(GO) build -o bench/out/compare ./bench/cmd/compare
	./bench/out/compare -out bench/out

## bench-readme: the README's figures table and bench/out/chart.svg, from
## bench/out/results.json (the last make bench) or RESULTS=a.json,b.json
## (runs of some parts each, a table per run); never edited by hand.
RESULTS ?= bench/out/results.json
.PHONY: bench-readme
bench-readme:
	$(GO) run ./bench/cmd/readme -results $(RESULTS) -readme README.md -chart bench/out/chart.svg

## bench-deps: peers for make bench. atftpd conflicts with tftpd-hpa (both
## ship in.tftpd), so it is unpacked into .cache/bench, not installed.
bench-deps: deps
	@mkdir -p bench/out .cache/bench
	@for p in kea-dhcp4-server kea-dhcp6-server wrk etcd-server curl; do \
	  if [ "$$(id -u)" = 0 ] && ! dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed'; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$p >/dev/null; fi; done
	@if [ ! -x .cache/bench/atftpd/usr/sbin/atftpd ]; then \
	  d=$$(mktemp -d) && (cd $$d && apt-get download atftpd >/dev/null) && dpkg -x $$d/atftpd_*.deb .cache/bench/atftpd && rm -rf $$d; fi

## kvoracle: vmspec against KubeVirt v1.9.0's own admission code, on
## KVORACLE_N generated objects and every VM/VMI manifest in testdata. A
## test-only module of its own (outside ./...); its first build compiles much
## of KubeVirt, minutes on two cores.
KVORACLE_N ?= 2000
# -mod=mod: the oracle modules build against this checkout (replace ../..), so a
# requirement pxekit adds must not fail them until their go.mod is tidied.
ORACLE_GOFLAGS := GOFLAGS="$(shell $(GO) env GOFLAGS) -mod=mod"
kvoracle:
	cd internal/kvoracle && $(ORACLE_GOFLAGS) $(GO) vet . && $(ORACLE_GOFLAGS) $(GO) test -count=1 -timeout 30m -kvoracle.n=$(KVORACLE_N) .

## kvoracle-long: the same on 20,000 objects, printing the figures.
kvoracle-long:
	cd internal/kvoracle && $(ORACLE_GOFLAGS) $(GO) test -count=1 -timeout 60m -v -run 'TestDifferential|TestDocumentsAgree' -kvoracle.n=20000 .

## sriovoracle: sriov's validation against the SR-IOV Network Operator
## v1.6.0's webhook and its CRD schemas (a test-only module of its own).
SRIOVORACLE_N ?= 4000
sriovoracle:
	cd internal/sriovoracle && $(ORACLE_GOFLAGS) $(GO) vet . && $(ORACLE_GOFLAGS) $(GO) test -count=1 -timeout 20m -sriovoracle.n=$(SRIOVORACLE_N) .

## kvoracle-fuzz: the oracle module's fuzz target (FuzzDifferential).
kvoracle-fuzz:
	cd internal/kvoracle && $(ORACLE_GOFLAGS) FUZZTIME=$(FUZZTIME) GO=$(GO) ../../scripts/fuzz.sh

demo: testdeps
	$(GO) run ./examples/pxelab demo

clean:
	rm -rf .cache
