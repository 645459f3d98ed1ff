build2/obj/config/values.o: config/values.c config/config_int.h \
 config/config.h replay/replay.h common/hist.h common/buf.h wal/wal.h \
 config/toml.h common/err.h common/hostport.h common/name.h \
 common/precision.h common/url.h common/xalloc.h
config/config_int.h:
config/config.h:
replay/replay.h:
common/hist.h:
common/buf.h:
wal/wal.h:
config/toml.h:
common/err.h:
common/hostport.h:
common/name.h:
common/precision.h:
common/url.h:
common/xalloc.h:
