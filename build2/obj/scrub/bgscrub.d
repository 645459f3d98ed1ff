build2/obj/scrub/bgscrub.o: scrub/bgscrub.c scrub/bgscrub.h relay/relay.h \
 common/hist.h common/buf.h wal/wal.h replay/replay.h common/clock.h \
 common/err.h common/log.h common/xalloc.h scrub/window.h
scrub/bgscrub.h:
relay/relay.h:
common/hist.h:
common/buf.h:
wal/wal.h:
replay/replay.h:
common/clock.h:
common/err.h:
common/log.h:
common/xalloc.h:
scrub/window.h:
