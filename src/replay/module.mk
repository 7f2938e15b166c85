# The replay timeline: positions, reverse execution, navigation and
# diversions.
LIB_SRCS += src/replay/replay_timeline.c src/replay/replay_reverse.c src/replay/replay_target.c \
            src/replay/replay_nav.c src/replay/thinning.c
LIB_SRCS += src/replay/diversion_log.c src/replay/replay_diversion.c
