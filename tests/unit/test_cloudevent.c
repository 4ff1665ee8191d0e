/* test_cloudevent.c: placeholder replaced below */
#include "autoconfig.h"
#include "cloudevent.h"
#include "tap.h"
int
main(void)
{
	ok(cloudevent_valid_timestamp("2020-01-01T00:00:00Z"), "timestamp");
	return tap_done();
}
