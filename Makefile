# valorfs - one Makefile for everything; output goes to $(B) (build/).
#
#   make            build the programs into build/
#   make deps       install missing Debian packages (quiet when present)
#   make test       deps, build, unit tests, fuzz smoke, integration tests
#   make asan       unit tests under ASan+UBSan (build/asan/)
#   make bench      fio + mdbench vs tmpfs and disk, metad ops/s (tools/bench*)
#   make run        a mounted file system in ./mnt
#   make install    programs, helper and man pages under $(PREFIX)

B ?= build
PREFIX ?= /usr/local
CC ?= cc
SAN ?=
WERROR ?= $(if $(CI),-Werror,)

DEPS_DEB := build-essential pkg-config liburing-dev libnuma-dev libcmocka-dev \
	systemtap-sdt-dev libsodium-dev liblmdb-dev fio fuse3 strace clang \
	gnuplot-nox libpq-dev postgresql

CFLAGS_BASE := -std=gnu11 -O2 -g -fno-omit-frame-pointer -Wall -Wextra \
	-Wno-unused-parameter -Wno-missing-field-initializers -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I. $(WERROR)
ifeq ($(SAN),1)
CFLAGS_BASE += -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_SAN := -fsanitize=address,undefined
endif
CFLAGS ?=
CFLAGS += $(CFLAGS_BASE)
LDLIBS := -luring -lnuma -lsodium -llmdb -lpq -lpthread

# Every module's .c goes into an archive per folder (libvalor-DIR.a) except
# the programs' main.c files. Each server links only the folders it uses, so
# work in progress in one folder does not stop the others from building.
LIB_DIRS := common proto ring rdma daemon mgmtd meta storage
CORE_DIRS := common proto ring rdma
lib_src = $(filter-out %/main.c,$(wildcard $(1)/*.c))
LIB_SRC := $(foreach d,$(LIB_DIRS),$(call lib_src,$(d)))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
libs_of = $(foreach d,$(1),$(B)/libvalor-$(d).a)
ALL_LIBS := $(call libs_of,$(LIB_DIRS))
CORE_LIBS := $(call libs_of,$(CORE_DIRS))
# Archives are linked as one group: the order among them does not matter.
link = $(CC) $(LDFLAGS_SAN) -o $@ $(filter %.o,$^) -Wl,--start-group $(filter %.a,$^) -Wl,--end-group $(LDLIBS)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
# Integration programs: tests/integration/NAME.c, or a directory
# tests/integration/NAME/ with a main.c, built from all its .c files.
ITEST_SRC := $(wildcard tests/integration/*.c)
ITEST_DIRS := $(patsubst %/main.c,%,$(wildcard tests/integration/*/main.c))
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(B)/tests/%) \
	$(ITEST_DIRS:tests/integration/%=$(B)/tests/%)
TOOL_SRC := $(wildcard tools/*.c)
TOOL_BIN := $(TOOL_SRC:tools/%.c=$(B)/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)

# The servers are built once their main.c exists.
PROGS := $(B)/valorfs $(B)/valor-mgmtd $(TOOL_BIN) \
	$(if $(wildcard meta/main.c),$(B)/valor-metad) \
	$(if $(wildcard storage/main.c),$(B)/valor-storaged)

# Keep the objects of tests and tools (make would delete them as intermediates).
.SECONDARY:

.PHONY: all deps test unit integration asan fuzz bench run stop install clean
all: $(PROGS) $(UNIT_BIN) $(ITEST_BIN)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

define LIB_RULE
$(B)/libvalor-$(1).a: $(patsubst %.c,$(B)/obj/%.o,$(call lib_src,$(1)))
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach d,$(LIB_DIRS),$(eval $(call LIB_RULE,$(d))))

$(B)/valorfs: $(B)/obj/daemon/main.o $(call libs_of,daemon) $(CORE_LIBS)
	$(link)

$(B)/valor-mgmtd: $(B)/obj/mgmtd/main.o $(call libs_of,mgmtd) $(CORE_LIBS)
	$(link)

$(B)/valor-metad: $(B)/obj/meta/main.o $(call libs_of,meta daemon) $(CORE_LIBS)
	$(link)

$(B)/valor-storaged: $(B)/obj/storage/main.o $(call libs_of,storage) $(CORE_LIBS)
	$(link)

$(B)/%: $(B)/obj/tools/%.o $(ALL_LIBS)
	$(link)

$(B)/tests/test_%: $(B)/obj/tests/unit/test_%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(link) -lcmocka

$(B)/tests/%: $(B)/obj/tests/integration/%.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SAN) -o $@ $^ -lpthread

# One explicit rule per multi-file integration program (wins over the
# single-file pattern rule above).
define ITEST_DIR_RULE
$(B)/tests/$(notdir $(1)): $(patsubst %.c,$(B)/obj/%.o,$(wildcard $(1)/*.c))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_SAN) -o $$@ $$^ -lpthread
endef
$(foreach d,$(ITEST_DIRS),$(eval $(call ITEST_DIR_RULE,$(d))))

# libFuzzer targets: clang only, linked against the pure proto/ code.
$(B)/fuzz/%: tests/fuzz/%.c $(wildcard proto/*.c proto/*.h)
	@mkdir -p $(dir $@)
	clang -g -O1 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(wildcard proto/*.c)

fuzz: $(FUZZ_BIN)

deps:
	@missing=""; for p in $(DEPS_DEB); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null || \
			{ echo "deps: apt-get install$$missing failed" >&2; exit 1; }; \
	fi

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(B)/tests

# Unit tests under ASan+UBSan, and an ASan daemon the integration suite
# mounts to check that unmounting leaks nothing.
asan:
	$(MAKE) B=build/asan SAN=1 unit build/asan/valorfs

integration: all
	@tests/integration/run.sh $(B) && tests/integration/mgmtd.sh $(B) && \
		tests/integration/storaged.sh $(B) && tests/integration/metad.sh $(B) && \
		tests/integration/cluster.sh $(B)

test: deps
	$(MAKE) all fuzz
	$(MAKE) B=build/asan SAN=1 build/asan/valorfs
	@tests/run-all.sh $(B)

# tools/bench (fio + mdbench: tmpfs, disk, mem engines, cluster), then
# tools/bench-meta (metad ops/s per KV backend) even if the first failed;
# the status is the first failure's. Ctrl-C stops both.
bench: deps all
	@rc=0; tools/bench $(B) || rc=$$?; \
	case $$rc in 130|143) exit $$rc ;; esac; \
	echo; tools/bench-meta $(B) || { r=$$?; [ $$rc != 0 ] || rc=$$r; }; \
	exit $$rc

# A local cluster (mgmtd, metad, 3 storaged, replication 3) mounted on ./mnt,
# its data and logs in ./run; `make stop` (or tools/valor-down --dir run)
# stops it. Running it again starts whatever is not running.
run: deps all
	@VALOR_BIN=$(CURDIR)/$(B) tools/valor-up --dir $(CURDIR)/run $(CURDIR)/mnt

stop:
	@tools/valor-down --dir $(CURDIR)/run

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/sbin $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(filter-out $(B)/valor-testnode,$(PROGS)) $(DESTDIR)$(PREFIX)/bin/
	install -m 755 tools/valor-up tools/valor-down $(DESTDIR)$(PREFIX)/bin/
	install -m 755 tools/mount.valorfs $(DESTDIR)/sbin/mount.valorfs
	ln -sf mount.valorfs $(DESTDIR)/sbin/mount.fuse.valorfs
	install -m 644 $(wildcard man/*.8) $(DESTDIR)$(PREFIX)/share/man/man8/
	ln -sf valor-up.8 $(DESTDIR)$(PREFIX)/share/man/man8/valor-down.8

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
