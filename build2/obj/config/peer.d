build2/obj/config/peer.o: config/peer.c config/config_int.h \
 config/config.h replay/replay.h common/hist.h common/buf.h wal/wal.h \
 config/toml.h common/xalloc.h
config/config_int.h:
config/config.h:
replay/replay.h:
common/hist.h:
common/buf.h:
wal/wal.h:
config/toml.h:
common/xalloc.h:
