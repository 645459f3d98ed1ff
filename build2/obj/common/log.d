build2/obj/common/log.o: common/log.c common/log.h common/clock.h \
 common/err.h
common/log.h:
common/clock.h:
common/err.h:
