build2/obj/common/hist.o: common/hist.c common/hist.h common/buf.h \
 common/err.h
common/hist.h:
common/buf.h:
common/err.h:
