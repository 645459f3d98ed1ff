build2/obj/config/validate.o: config/validate.c config/config_int.h \
 config/config.h replay/replay.h common/hist.h common/buf.h wal/wal.h \
 config/toml.h relay/graphite.h common/err.h common/log.h
config/config_int.h:
config/config.h:
replay/replay.h:
common/hist.h:
common/buf.h:
wal/wal.h:
config/toml.h:
relay/graphite.h:
common/err.h:
common/log.h:
