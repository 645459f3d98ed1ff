build2/obj/relay/opentsdb_http.o: relay/opentsdb_http.c \
 relay/opentsdb_http.h common/buf.h common/err.h common/log.h \
 common/xalloc.h relay/lineproto.h common/precision.h relay/opentsdb.h \
 relay/relay_int.h common/hist.h common/hostport.h relay/relay.h \
 wal/wal.h /usr/share/include/llhttp/llhttp.h relay/stream.h
relay/opentsdb_http.h:
common/buf.h:
common/err.h:
common/log.h:
common/xalloc.h:
relay/lineproto.h:
common/precision.h:
relay/opentsdb.h:
relay/relay_int.h:
common/hist.h:
common/hostport.h:
relay/relay.h:
wal/wal.h:
/usr/share/include/llhttp/llhttp.h:
relay/stream.h:
