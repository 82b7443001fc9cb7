/*
 * NAME
 *	fuzz_util - helpers shared by the libFuzzer harnesses
 * DESCRIPTION
 *	fuzz_scratch_path() gives the parsers that read a file
 *	(cfg_load(), texthash: tables) one path per process, to an
 *	anonymous memory file; fuzz_scratch_write() replaces its
 *	contents with the input.
 *
 *	fuzz_field() cuts the input into fields at a separator byte;
 *	each field is returned as a NUL-terminated heap copy (interior
 *	NULs end the string early, as they would in any C caller).
 *
 *	FUZZ_CHECK() aborts with file:line when an invariant fails, so a
 *	broken property is reported and minimized like a crash.
 */
#ifndef TLSPROXY_FUZZ_UTIL_H
#define TLSPROXY_FUZZ_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#define FUZZ_CHECK(e) do {						\
	if (!(e)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #e);				\
		abort();						\
	}								\
} while (0)

static int	fuzz_fd = -1;
static char	fuzz_file[64];

/*
 * fuzz_scratch_path - path of this process's scratch file: an anonymous
 * memory file (memfd), made once, reached through /proc/self/fd. It
 * needs no cleanup, even after a crash, and names nothing on disk.
 */
static inline const char *
fuzz_scratch_path(const char *name)
{
	if (fuzz_fd != -1)
		return (fuzz_file);
	if ((fuzz_fd = memfd_create(name, MFD_CLOEXEC)) == -1) {
		perror("fuzz: memfd_create");
		abort();
	}
	(void)snprintf(fuzz_file, sizeof(fuzz_file), "/proc/self/fd/%d",
	    fuzz_fd);
	return (fuzz_file);
}

/* fuzz_scratch_write - make the scratch file hold exactly data[0..size) */
static inline void
fuzz_scratch_write(const uint8_t *data, size_t size)
{
	ssize_t	 n;
	off_t	 off = 0;

	if (fuzz_fd == -1 || ftruncate(fuzz_fd, 0) == -1) {
		perror("fuzz: ftruncate");
		abort();
	}
	while (size > 0) {
		if ((n = pwrite(fuzz_fd, data, size, off)) == -1) {
			if (errno == EINTR)
				continue;
			perror("fuzz: pwrite");
			abort();
		}
		data += n;
		off += n;
		size -= (size_t)n;
	}
}

/*
 * fuzz_field - next field of data[*off..size) up to SEP, as a heap
 * string; *off moves past the separator. After the last field it
 * returns "" (still a heap copy), so callers need no special case.
 */
static inline char *
fuzz_field(const uint8_t *data, size_t size, size_t *off, int sep)
{
	const uint8_t *end;
	size_t	 len;
	char	*s;

	if (*off >= size) {
		len = 0;
	} else if ((end = memchr(data + *off, sep, size - *off)) != NULL) {
		len = (size_t)(end - (data + *off));
	} else {
		len = size - *off;
	}
	if ((s = malloc(len + 1)) == NULL)
		abort();
	if (len > 0)
		memcpy(s, data + *off, len);
	s[len] = '\0';
	*off += len + 1;
	return (s);
}

/* fuzz_memmem_ci - case-insensitive search of an ASCII needle */
static inline int
fuzz_memmem_ci(const uint8_t *data, size_t size, const char *needle)
{
	size_t	 i, j, n = strlen(needle);
	int	 a, b;

	for (i = 0; i + n <= size; i++) {
		for (j = 0; j < n; j++) {
			a = data[i + j];
			b = (unsigned char)needle[j];
			if (a >= 'A' && a <= 'Z')
				a += 'a' - 'A';
			if (b >= 'A' && b <= 'Z')
				b += 'a' - 'A';
			if (a != b)
				break;
		}
		if (j == n)
			return (1);
	}
	return (0);
}

/* fuzz_printable - every byte of S is printable ASCII (safe to log) */
static inline int
fuzz_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return (0);
	return (1);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#endif
