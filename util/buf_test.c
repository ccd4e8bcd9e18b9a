/*
 * buf_test - the capped growable string: buf_printf formats into the room
 * it has when the text fits, grows when it does not, and leaves the text
 * as it was when the cap is reached.
 */
#include "config.h"

#include <string.h>

#include "buf.h"
#include "check.h"

int main(void)
{
	struct buf b;
	char want[300];

	buf_init(&b, 1024);
	CHECK(buf_printf(&b, "%d-%s", 42, "x") == 0, "first printf");
	CHECK_STR(buf_str(&b), "42-x", "formatted into a new buffer");
	/* fill up to the allocation's edge, byte by byte: every length that
	 * fits, exactly fills, or passes the room formats the same */
	for (int i = 0; i < 200; i++)
		CHECK(buf_printf(&b, "%c", 'a' + i % 26) == 0, "one byte at a time (%d)", i);
	memcpy(want, "42-x", 4);
	for (int i = 0; i < 200; i++)
		want[4 + i] = (char)('a' + i % 26);
	want[204] = '\0';
	CHECK(b.len == 204 && strcmp(buf_str(&b), want) == 0, "204 bytes, as appended");
	CHECK(buf_printf(&b, "%0*d", 100, 7) == 0 && b.len == 304 && buf_str(&b)[303] == '7',
	      "a field longer than the room grows the buffer");
	CHECK(buf_printf(&b, "%0*d", 800, 1) < 0 && b.overflow && b.len == 304 &&
		  strlen(buf_str(&b)) == 304,
	      "past the cap: refused, overflow set, the text unchanged");
	buf_reset(&b);
	CHECK(buf_printf(&b, "%0*d", 1023, 5) == 0 && b.len == 1023, "one byte under the cap");
	CHECK(buf_printf(&b, "%c", 'y') == 0 && b.len == 1024, "exactly the cap fits");
	CHECK(buf_printf(&b, "%c", 'z') < 0 && b.len == 1024 && strlen(buf_str(&b)) == 1024,
	      "one byte past the cap is refused");
	buf_release(&b);
	return check_done();
}
