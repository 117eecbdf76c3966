// SPDX-License-Identifier: GPL-2.0
/*
 * libfuse's hello_ll example, unmodified, mounted through fusexctl on fuse
 * and on fusex: one read-only file, "hello", with "Hello World!\n".
 *
 * hello_ll implements only LOOKUP, GETATTR, READDIR, OPEN and READ, so this
 * is also where the defaults libfuse answers for the rest show through
 * (OPENDIR, STATFS, GETXATTR and LISTXATTR answered ENOSYS).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fusex_util.h"

#define HELLO "Hello World!\n"

FIXTURE(hello) {
	struct fx_server srv;
	char file[96];
};

FIXTURE_VARIANT(hello) {
	const char *type;
};

FIXTURE_VARIANT_ADD(hello, fuse) { .type = "fuse" };
FIXTURE_VARIANT_ADD(hello, fusex) { .type = "fusex" };

FIXTURE_SETUP(hello)
{
	char server[PATH_MAX], why[256];
	const char *argv[] = { server, "-f", NULL };

	if (!fx_have_dev(variant->type))
		SKIP(return, "/dev/%s is missing (module not loaded)",
		     variant->type);
	if (fx_build_path(server, sizeof(server), "hello_ll"))
		SKIP(return, "hello_ll not built (set FUSEX_BUILD)");
	strcpy(self->srv.mnt, "/tmp/fusex-hello.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->srv.mnt));
	snprintf(self->file, sizeof(self->file), "%s/hello", self->srv.mnt);
	ASSERT_EQ(0, fx_server_start(&self->srv, variant->type, NULL, argv,
				     why, sizeof(why))) TH_LOG("%s", why);
}

FIXTURE_TEARDOWN(hello)
{
	if (!self->srv.mnt[0])
		return;
	fx_server_stop(&self->srv);
	rmdir(self->srv.mnt);
}

TEST_F_TIMEOUT(hello, read, FX_TIMEOUT)
{
	char buf[4096], *map;
	int fd;

	FX_RETURN_IF_SKIPPED();
	fd = open(self->file, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(strlen(HELLO), read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, HELLO, strlen(HELLO)));
	EXPECT_EQ(0, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(7, pread(fd, buf, sizeof(buf), 6));
	EXPECT_EQ(0, memcmp(buf, "World!\n", 7));
	EXPECT_EQ(1, pread(fd, buf, 1, 12));
	EXPECT_EQ('\n', buf[0]);
	EXPECT_EQ(0, pread(fd, buf, sizeof(buf), 13));
	EXPECT_EQ(0, pread(fd, buf, sizeof(buf), 1 << 20));

	/* Through the page cache: the tail of the page reads as zeroes. */
	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, memcmp(map, HELLO, strlen(HELLO)));
	EXPECT_EQ(0, map[strlen(HELLO)]);
	EXPECT_EQ(0, map[4095]);
	munmap(map, 4096);
	close(fd);
}

TEST_F_TIMEOUT(hello, stat, FX_TIMEOUT)
{
	struct stat st;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, stat(self->file, &st));
	EXPECT_EQ(S_IFREG | 0444, st.st_mode);
	EXPECT_EQ(strlen(HELLO), st.st_size);
	EXPECT_EQ(1, st.st_nlink);
	EXPECT_EQ(2, st.st_ino);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0, st.st_gid);
	EXPECT_EQ(0, st.st_mtime);

	ASSERT_EQ(0, stat(self->srv.mnt, &st));
	EXPECT_EQ(S_IFDIR | 0755, st.st_mode);
	EXPECT_EQ(2, st.st_nlink);
	EXPECT_EQ(1, st.st_ino);
}

TEST_F_TIMEOUT(hello, list_root, FX_TIMEOUT)
{
	bool seen[3] = { false, false, false };
	static const char *const names[] = { ".", "..", "hello" };
	static const ino_t inos[] = { 1, 1, 2 };
	struct dirent *de;
	int n = 0, i;
	DIR *d;

	FX_RETURN_IF_SKIPPED();
	d = opendir(self->srv.mnt);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		n++;
		for (i = 0; i < 3; i++)
			if (!strcmp(de->d_name, names[i]))
				break;
		ASSERT_GT(3, i) TH_LOG("unexpected entry '%s'", de->d_name);
		EXPECT_FALSE(seen[i]) TH_LOG("'%s' listed twice", de->d_name);
		seen[i] = true;
		EXPECT_EQ(inos[i], de->d_ino) TH_LOG("%s", de->d_name);
		/* hello_ll gives no mode in READDIR: the type stays unknown. */
		EXPECT_EQ(DT_UNKNOWN, de->d_type) TH_LOG("%s", de->d_name);
	}
	EXPECT_EQ(3, n);
	closedir(d);
}

TEST_F_TIMEOUT(hello, errors, FX_TIMEOUT)
{
	char path[128];
	struct stat st;

	FX_RETURN_IF_SKIPPED();
	snprintf(path, sizeof(path), "%s/nothing", self->srv.mnt);
	EXPECT_EQ(-1, stat(path, &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, open(path, O_RDONLY));
	EXPECT_EQ(ENOENT, errno);
	/* hello_ll refuses opens for writing itself */
	EXPECT_EQ(-1, open(self->file, O_WRONLY));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, open(self->file, O_RDWR));
	EXPECT_EQ(EACCES, errno);
	snprintf(path, sizeof(path), "%s/hello/x", self->srv.mnt);
	EXPECT_EQ(-1, stat(path, &st));
	EXPECT_EQ(ENOTDIR, errno);
	EXPECT_EQ(-1, open(self->file, O_RDONLY | O_DIRECTORY));
	EXPECT_EQ(ENOTDIR, errno);
}

TEST_F_TIMEOUT(hello, statfs_default, FX_TIMEOUT)
{
	struct statfs sf;

	FX_RETURN_IF_SKIPPED();
	/* No statfs in hello_ll: libfuse's answer is namemax 255, bsize 512. */
	ASSERT_EQ(0, statfs(self->srv.mnt, &sf));
	EXPECT_EQ(0x65735546, sf.f_type);
	EXPECT_EQ(512, sf.f_bsize);
	EXPECT_EQ(255, sf.f_namelen);
	EXPECT_EQ(0, sf.f_blocks);
	EXPECT_EQ(0, sf.f_files);
}

TEST_F_TIMEOUT(hello, xattr_unsupported, FX_TIMEOUT)
{
	char buf[64];
	int i;

	FX_RETURN_IF_SKIPPED();
	/* ENOSYS from the server is EOPNOTSUPP, and stays so (remembered). */
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(-1, getxattr(self->file, "user.x", buf, sizeof(buf)));
		EXPECT_EQ(EOPNOTSUPP, errno);
		EXPECT_EQ(-1, listxattr(self->file, buf, sizeof(buf)));
		EXPECT_EQ(EOPNOTSUPP, errno);
	}
}

TEST_HARNESS_MAIN
