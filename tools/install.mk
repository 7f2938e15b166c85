# `make install` (PREFIX, DESTDIR): the programs, a man page for each made
# from its own --help text (tools/man/gen-man.sh), bash completion, and the
# gdb helpers in tools/gdb/ when there are any.
PREFIX  ?= /usr/local
BINDIR  := $(DESTDIR)$(PREFIX)/bin
MANDIR  := $(DESTDIR)$(PREFIX)/share/man/man1
COMPDIR := $(DESTDIR)$(PREFIX)/share/bash-completion/completions
DATADIR := $(DESTDIR)$(PREFIX)/share/ukvm
MANS    := $(BUILD)/man/ukvm.1 $(BUILD)/man/ukvm-trace.1

$(BUILD)/man/ukvm.1: ukvm tools/man/gen-man.sh
	@mkdir -p $(dir $@)
	tools/man/gen-man.sh ./ukvm ukvm "record, replay and debug Solo5 unikernels on KVM" > $@

$(BUILD)/man/ukvm-trace.1: tools/ukvm-trace tools/man/gen-man.sh
	@mkdir -p $(dir $@)
	tools/man/gen-man.sh tools/ukvm-trace ukvm-trace "inspect, check and edit ukvm traces" > $@

.PHONY: man install uninstall
man: $(MANS)

install: ukvm tools/ukvm-trace $(MANS)
	install -d $(BINDIR) $(MANDIR) $(COMPDIR)
	install -m 0755 ukvm tools/ukvm-trace $(BINDIR)/
	install -m 0644 $(MANS) $(MANDIR)/
	install -m 0644 tools/completion/ukvm.bash $(COMPDIR)/ukvm
	ln -sf ukvm $(COMPDIR)/ukvm-trace
	if [ -d tools/gdb ]; then install -d $(DATADIR)/gdb && \
		install -m 0644 tools/gdb/*.py $(DATADIR)/gdb/; fi

uninstall:
	rm -f $(BINDIR)/ukvm $(BINDIR)/ukvm-trace $(MANDIR)/ukvm.1 $(MANDIR)/ukvm-trace.1 \
		$(COMPDIR)/ukvm $(COMPDIR)/ukvm-trace
	rm -rf $(DATADIR)
