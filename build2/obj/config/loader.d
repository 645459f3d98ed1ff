build2/obj/config/loader.o: config/loader.c config/config_int.h \
 config/config.h replay/replay.h common/hist.h common/buf.h wal/wal.h \
 config/toml.h replay/generation.h replay/classify.h common/err.h \
 common/log.h common/xalloc.h
config/config_int.h:
config/config.h:
replay/replay.h:
common/hist.h:
common/buf.h:
wal/wal.h:
config/toml.h:
replay/generation.h:
replay/classify.h:
common/err.h:
common/log.h:
common/xalloc.h:
