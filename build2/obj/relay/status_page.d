build2/obj/relay/status_page.o: relay/status_page.c relay/relay_int.h \
 common/buf.h common/hist.h common/hostport.h relay/lineproto.h \
 common/precision.h relay/relay.h wal/wal.h \
 /usr/share/include/llhttp/llhttp.h common/err.h \
 build2/gen/relay/status_page_html.h
relay/relay_int.h:
common/buf.h:
common/hist.h:
common/hostport.h:
relay/lineproto.h:
common/precision.h:
relay/relay.h:
wal/wal.h:
/usr/share/include/llhttp/llhttp.h:
common/err.h:
build2/gen/relay/status_page_html.h:
