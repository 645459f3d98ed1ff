build2/obj/common/url.o: common/url.c common/url.h common/err.h \
 common/xalloc.h
common/url.h:
common/err.h:
common/xalloc.h:
