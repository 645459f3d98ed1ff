build2/obj/relay/influxql.o: relay/influxql.c relay/influxql.h \
 common/buf.h common/xalloc.h
relay/influxql.h:
common/buf.h:
common/xalloc.h:
