# nabla - build, test and install.
#   make                  build/libnabla.a, build/libnabla.so and babygpt
#   make check            build and run every test (Check), print the counts
#   make check SANITIZE=1 the same under ASan + UBSan + LSan (in build/san)
#   make DEBUG=1          -O0 -g build (in build/debug)
#   make install PREFIX=/usr/local
#   make babygpt          the main job: train Baby GPT on the built-in corpus
#   make bench            benchmarks
#   make CUDA=0           leave the CUDA backend out
#   make fuzz             libFuzzer runs of every fuzz target (FUZZ_SECONDS=60 each)
#   make parity-ops       every op on edge-case inputs against PyTorch (tools/reference/ops_edge)
CC       ?= gcc
PREFIX   ?= /usr/local
.DEFAULT_GOAL := all
VERSION  := 0.1.0
DATA     ?= $(abspath ../shared/data)

ifeq ($(SANITIZE),1)
  BUILD  ?= build/san
  OPT    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN  := -fsanitize=address,undefined
else ifeq ($(DEBUG),1)
  BUILD  ?= build/debug
  OPT    := -O0 -g
else
  BUILD  ?= build
  OPT    := -O3 -g # -O3 over -O2: the GEMM micro-kernel's 24 accumulators stay in registers (+2-3% a step)
endif

PKGS     := check libpcre2-8 jansson stb libedit libmicrohttpd
DEPS_OK  := $(shell pkg-config --exists $(PKGS) 2>/dev/null && echo yes)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs libpcre2-8 jansson libedit libmicrohttpd 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

CUDA_HOME ?= /usr/local/cuda
ifeq ($(origin CUDA),undefined)
  CUDA := $(if $(and $(wildcard $(CUDA_HOME)/include/nvrtc.h),$(wildcard backends/cuda/*.c)),1,0)
endif

# -ffp-contract=off: a * b + c is never silently fused into an FMA, so every compiler rounds
# the same way (gcc does this already for -std=c11; clang contracts by default, which broke
# the bit-identity tests of the vector kernels against their scalar references). Kernels that
# want FMAs use them explicitly.
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wpedantic -fPIC -fopenmp -ffp-contract=off -Iinclude -I.
CFLAGS   ?= $(OPT)
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP
LDLIBS_LIB := -fopenmp -lm -ldl -lpthread
JANSSON_LIBS = $(shell pkg-config --libs jansson 2>/dev/null)
LDFLAGS  += $(LDSAN)

LIB_SRCS := $(wildcard tensor/*.c autograd/*.c ops/*.c backends/*.c backends/cpu/*.c nn/*.c)
ifeq ($(CUDA),1)
  LIB_SRCS += $(wildcard backends/cuda/*.c)
  CFLAGS_BASE += -DNB_WITH_CUDA=1 -DNB_CUDA_HOME='"$(CUDA_HOME)"' -I$(CUDA_HOME)/include
  LDLIBS_LIB += -Wl,-rpath,$(CUDA_HOME)/lib64 # libcuda, libnvrtc, libcublas: dlopen'd (cuda)
  $(BUILD)/obj/backends/registry.o: $(wildcard backends/cuda/*.h) # rebuilt with NB_WITH_CUDA (cuda)
endif
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)

BG_SRCS  := $(filter-out examples/babygpt/main.c,$(wildcard examples/babygpt/*.c))
BG_OBJS  := $(BG_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
EX_SRCS  := $(filter-out examples/babygpt/main.c,$(wildcard examples/*/main.c))
EX_BINS  := $(EX_SRCS:examples/%/main.c=$(BUILD)/examples/%)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

.PHONY: all lib check clean install uninstall babygpt bench deps format parity parity-ops fuzz
all: deps lib $(BUILD)/babygpt

lib: $(BUILD)/libnabla.a $(BUILD)/libnabla.so

deps:
ifneq ($(DEPS_OK),yes)
	@bash tools/install-deps.sh
endif

# Everything compiled depends on the compiler and the flags it was built with: a build with
# another CC, OPT or CFLAGS into the same directory recompiles instead of mixing objects.
FLAGS_STAMP := $(BUILD)/.flags-$(shell printf '%s' "$(CC) $(subst ",\",$(ALL_CFLAGS))" | cksum | cut -d' ' -f1)
$(FLAGS_STAMP):
	@mkdir -p $(dir $@) && rm -f $(BUILD)/.flags-* && touch $@

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libnabla.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libnabla.so: $(LIB_OBJS)
	$(CC) -shared -o $@ $^ $(LDFLAGS) $(JANSSON_LIBS) $(LDLIBS_LIB)

$(BUILD)/libbabygpt.a: $(BG_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/babygpt: $(BUILD)/obj/examples/babygpt/main.o $(BUILD)/libbabygpt.a $(BUILD)/libnabla.a
	$(CC) -o $@ $^ $(LDFLAGS) $(PKG_LIBS) $(LDLIBS_LIB)

# gcc 12.2 for aarch64 (Debian 12's, native or cross) crashes vectorising two tests' double
# fmax reductions at -O3 (internal compiler error in vect_transform_reduction): there, the
# tests, whose own speed does not matter, are built without loop vectorisation.
ifneq ($(findstring aarch64,$(shell $(CC) -dumpmachine 2>/dev/null)),)
  TEST_CFLAGS := -fno-tree-loop-vectorize
endif

$(BUILD)/tests/%: tests/%.c $(BUILD)/libbabygpt.a $(BUILD)/libnabla.a tests/nb_check.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -MF $@.d -o $@ $< $(BUILD)/libbabygpt.a $(BUILD)/libnabla.a $(LDFLAGS) $(CHECK_LIBS) $(PKG_LIBS) $(LDLIBS_LIB)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libbabygpt.a $(BUILD)/libnabla.a $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MF $@.d -o $@ $< $(BUILD)/libbabygpt.a $(BUILD)/libnabla.a $(LDFLAGS) $(PKG_LIBS) $(LDLIBS_LIB)

$(BUILD)/examples/%: examples/%/main.c $(BUILD)/libnabla.a $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MF $@.d -o $@ $< $(BUILD)/libnabla.a $(LDFLAGS) $(PKG_LIBS) $(LDLIBS_LIB)

# The CUDA emulator (tests/cuda_emu): libcuda, NVRTC and cuBLAS stand-ins that run the CUDA
# backend's host code and kernel sources on the CPU, so its op tests run without a GPU.
ifeq ($(CUDA),1)
  EMU_LIB   := $(BUILD)/libnbcudaemu.so
  EMU_TESTS := tests/cuda_emu/test_cuda_ops_emu.sh tests/cuda_emu/test_babygpt_cuda_emu.sh
endif
EMU_SRCS := tests/cuda_emu/emu_driver.c tests/cuda_emu/emu_nvrtc.c tests/cuda_emu/emu_cublas.c
$(BUILD)/libnbcudaemu.so: $(EMU_SRCS) tests/cuda_emu/emu_internal.h $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) -MF $@.d -DNB_EMU_RT_DIR='"$(abspath tests/cuda_emu)"' \
	    -DNB_EMU_DEFAULT_CACHE='"$(abspath $(BUILD))/cuda_emu"' -shared -o $@ $(EMU_SRCS) $(LDFLAGS) -ldl -lpthread

check: deps lib $(BUILD)/babygpt $(TEST_BINS) $(EX_BINS) $(EMU_LIB)
	@NABLA_DATA=$(DATA) NB_BUILD=$(BUILD) bash tests/run.sh $(TEST_BINS) $(EX_BINS) $(EMU_TESTS) tests/docs_names.sh

bench: deps lib $(BENCH_BINS)
	@NABLA_DATA=$(DATA) NB_BUILD=$(BUILD) bash bench/run.sh $(BUILD)

# Baby GPT against PyTorch: logits, loss, gradients and 10 AdamW steps (see the script's header)
parity: deps lib $(BUILD)/libbabygpt.a
	@mkdir -p $(BUILD)/parity
	$(CC) $(ALL_CFLAGS) -MF $(BUILD)/parity/parity.d -o $(BUILD)/parity/parity tools/parity/parity.c $(BUILD)/libbabygpt.a $(BUILD)/libnabla.a $(LDFLAGS) $(PKG_LIBS) $(LDLIBS_LIB)
	$(BUILD)/parity/parity $(BUILD)/parity
	/usr/bin/python3 tools/reference/babygpt_parity.py $(BUILD)/parity

# Every op on edge cases (NaN, infinities, signed zeros, empty, bad arguments, large offsets)
# against PyTorch, with the differences nabla makes on purpose listed (tools/reference/ops_edge)
OPS_EDGE_SRCS := tools/reference/ops_edge/ops_edge.c tools/reference/ops_edge/ops_edge_cases.c \
                 tools/reference/ops_edge/ops_edge_layers.c tools/reference/ops_edge/ops_edge_more.c \
                 tools/reference/ops_edge/ops_edge_special.c tools/reference/ops_edge/ops_edge_linalg.c
parity-ops: deps lib
	@mkdir -p $(BUILD)/ops_edge
	$(CC) $(ALL_CFLAGS) -MF $(BUILD)/ops_edge/ops_edge.d -MT $(BUILD)/ops_edge/ops_edge -o $(BUILD)/ops_edge/ops_edge $(OPS_EDGE_SRCS) $(BUILD)/libnabla.a $(LDFLAGS) $(PKG_LIBS) $(LDLIBS_LIB)
	$(BUILD)/ops_edge/ops_edge $(BUILD)/ops_edge/out
	/usr/bin/python3 tools/reference/ops_edge/ops_edge_parity.py $(BUILD)/ops_edge/out

babygpt: deps
	$(MAKE) -j$$(nproc) all
	NABLA_DATA=$(DATA) bash examples/babygpt/main_job.sh $(BUILD)

install: lib
	install -d $(DESTDIR)$(PREFIX)/include/nabla $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/nabla.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/nabla/*.h $(DESTDIR)$(PREFIX)/include/nabla/
	install -m 644 $(BUILD)/libnabla.a $(BUILD)/libnabla.so $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS@|$(filter-out -fopenmp,$(LDLIBS_LIB))|' nabla.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/nabla.pc

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/include/nabla $(DESTDIR)$(PREFIX)/include/nabla.h
	rm -f $(DESTDIR)$(PREFIX)/lib/libnabla.a $(DESTDIR)$(PREFIX)/lib/libnabla.so $(DESTDIR)$(PREFIX)/lib/pkgconfig/nabla.pc

FUZZ_SECONDS ?= 60
fuzz:
	bash tools/fuzz.sh $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
