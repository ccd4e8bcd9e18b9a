/*
 * content_sniff - what an attachment is, whatever it says it is (see
 * content_int.h): its type from its first bytes (a table of the formats
 * mail carries and malware hides in), executable and double extensions
 * in file names, and the member names of a ZIP archive read from its
 * central directory only (APPNOTE.TXT §4.3.12, §4.3.16), every offset
 * checked against the bytes there are; nothing is decompressed.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "content_int.h"

static const struct {
	size_t offset;
	const char *magic;
	size_t len;
	const char *type;
} magics[] = {
    {0, "MZ", 2, "application/x-dosexec"},
    {0,
     "\x7f"
     "ELF",
     4, "application/x-executable"},
    {0, "PK\x03\x04", 4, "application/zip"},
    {0, "PK\x05\x06", 4, "application/zip"},
    {0, "%PDF-", 5, "application/pdf"},
    {0, "Rar!\x1a\x07", 6, "application/vnd.rar"},
    {0, "7z\xbc\xaf\x27\x1c", 6, "application/x-7z-compressed"},
    {0, "\x1f\x8b", 2, "application/gzip"},
    {0, "MSCF", 4, "application/vnd.ms-cab-compressed"},
    {0, "ITSF", 4, "application/vnd.ms-htmlhelp"},
    {0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, "application/x-ole-storage"},
    {0, "L\0\0\0\x01\x14\x02\0", 8, "application/x-ms-shortcut"},
    {0, "{\\rtf", 5, "text/rtf"},
    {0, "\x89PNG\r\n\x1a\n", 8, "image/png"},
    {0, "\xff\xd8\xff", 3, "image/jpeg"},
    {0, "GIF87a", 6, "image/gif"},
    {0, "GIF89a", 6, "image/gif"},
    {0x8001, "CD001", 5, "application/x-iso9660-image"},
};

const char *content_sniff(const unsigned char *data, size_t len)
{
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (len >= magics[i].offset + magics[i].len &&
		    memcmp(data + magics[i].offset, magics[i].magic, magics[i].len) == 0)
			return magics[i].type;
	return NULL;
}

/* Run by Windows on a double click (or mounted, for disk images). */
static const char *const executable_ext[] = {
    "exe", "scr", "com", "bat", "cmd", "pif", "cpl", "msi", "msp", "js",  "jse", "vbs", "vbe",
    "wsf", "wsh", "hta", "jar", "lnk", "ps1", "reg", "scf", "iso", "img", "vhd", "chm",
};
/* What a victim expects to open. */
static const char *const document_ext[] = {
    "pdf",  "doc", "docx", "xls", "xlsx", "ppt", "pptx", "rtf", "txt", "csv", "odt", "jpg",
    "jpeg", "png", "gif",  "zip", "rar",  "htm", "html", "eml", "mp3", "mp4", "wav",
};

static int ext_in(const char *ext, size_t len, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && strncasecmp(ext, list[i], len) == 0)
			return 1;
	return 0;
}

/* The last extension of name[0..len): blanks and dots at the end (which
 * Windows drops) ignored. */
static const char *last_ext(const char *name, size_t *len)
{
	size_t end = *len, dot;

	while (end > 0 && (name[end - 1] == ' ' || name[end - 1] == '.'))
		end--;
	for (dot = end;
	     dot > 0 && name[dot - 1] != '.' && name[dot - 1] != '/' && name[dot - 1] != '\\';
	     dot--)
		;
	if (dot == 0 || name[dot - 1] != '.')
		return NULL;
	*len = dot - 1; /* what comes before the dot */
	return name + dot;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

int content_name_executable(const char *name)
{
	size_t len = strlen(name), before = len;
	const char *ext = last_ext(name, &before);

	return ext != NULL && ext_in(ext, strcspn(ext, " ."), executable_ext, N(executable_ext));
}

int content_name_double_extension(const char *name)
{
	size_t len = strlen(name), before = len, n;
	const char *ext = last_ext(name, &before), *prev;

	if (ext == NULL || !ext_in(ext, strcspn(ext, " ."), executable_ext, N(executable_ext)))
		return 0;
	n = before;
	while (n > 0 && name[n - 1] == ' ') /* "invoice.pdf      .exe" */
		n--;
	before = n;
	if ((prev = last_ext(name, &before)) == NULL)
		return 0;
	return ext_in(prev, n - (size_t)(prev - name), document_ext, N(document_ext));
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/* The end of central directory record: in the last 64 KiB + 22 bytes
 * (its comment is at most 65535 bytes). */
static const unsigned char *zip_eocd(const unsigned char *data, size_t len)
{
	size_t stop = len > 65557 ? len - 65557 : 0;

	if (len < 22)
		return NULL;
	for (size_t i = len - 22 + 1; i-- > stop;)
		if (memcmp(data + i, "PK\x05\x06", 4) == 0)
			return data + i;
	return NULL;
}

/* Without a central directory (an archive cut short by content-max-bytes):
 * the local file headers from the start (APPNOTE.TXT §4.3.7), as long as
 * each says how long its data is (no data descriptor, bit 3). */
static int zip_local_names(const unsigned char *data, size_t len, size_t max_entries,
			   int (*fn)(void *ctx, const char *name, size_t name_len, uint64_t size),
			   void *ctx)
{
	size_t off = 0, reported = 0;

	while (reported < max_entries && len - off >= 30 &&
	       memcmp(data + off, "PK\x03\x04", 4) == 0) {
		size_t name_len = le16(data + off + 26), extra = le16(data + off + 28);
		uint64_t packed = le32(data + off + 18);

		if (len - off - 30 < name_len)
			break;
		if (name_len > 0 && data[off + 30 + name_len - 1] != '/') {
			reported++;
			if (fn(ctx, (const char *)data + off + 30, name_len, le32(data + off + 22)))
				break;
		}
		if ((le16(data + off + 6) & 8) != 0 || packed > len - off - 30 - name_len ||
		    extra > len - off - 30 - name_len - packed)
			break;
		off += 30 + name_len + extra + (size_t)packed;
	}
	return reported > 0 ? (int)reported : -1;
}

int content_zip_names(const unsigned char *data, size_t len, size_t max_entries,
		      int (*fn)(void *ctx, const char *name, size_t name_len, uint64_t size),
		      void *ctx)
{
	const unsigned char *eocd = zip_eocd(data, len);
	size_t off, entries, reported = 0;

	if (eocd == NULL)
		return zip_local_names(data, len, max_entries, fn, ctx);
	entries = le16(eocd + 10);
	off = le32(eocd + 16);
	for (size_t i = 0; i < entries && reported < max_entries; i++) {
		size_t name_len, extra, comment;

		if (off > len || len - off < 46 || memcmp(data + off, "PK\x01\x02", 4) != 0)
			break;
		name_len = le16(data + off + 28);
		extra = le16(data + off + 30);
		comment = le16(data + off + 32);
		if (len - off - 46 < name_len)
			break;
		if (name_len > 0 && data[off + 46 + name_len - 1] != '/') {
			reported++;
			if (fn(ctx, (const char *)data + off + 46, name_len, le32(data + off + 24)))
				break;
		}
		off += 46 + name_len + extra + comment;
	}
	return (int)reported;
}
