build2/obj/config/toml.o: config/toml.c config/toml.h common/buf.h \
 common/err.h common/xalloc.h
config/toml.h:
common/buf.h:
common/err.h:
common/xalloc.h:
