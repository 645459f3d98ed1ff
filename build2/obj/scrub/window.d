build2/obj/scrub/window.o: scrub/window.c scrub/window.h common/buf.h \
 wal/wal.h common/hist.h common/xalloc.h relay/lineproto.h \
 common/precision.h
scrub/window.h:
common/buf.h:
wal/wal.h:
common/hist.h:
common/xalloc.h:
relay/lineproto.h:
common/precision.h:
