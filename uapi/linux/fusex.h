/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause) */
/*
 * fusex: extensions to the FUSE protocol, shared by the fusex kernel module
 * and its userspace (libfusex, fusexctl, servers).
 *
 * The base protocol is FUSE's own, from <linux/fuse.h>: fusex speaks it as
 * Linux 6.1 does (7.38), so an unmodified libfuse 3 server runs on fusex
 * exactly as on fuse.ko.  Only what fusex adds is defined here.
 *
 * Changelog
 * ---------
 * fusex 1 (protocol 7.38):
 *  - base FUSE 7.38 client: device /dev/fusex, filesystem type "fusex",
 *    fuse's mount options; nothing added on the wire yet
 *
 * Version negotiation
 * -------------------
 * The kernel sends FUSE_INIT with major FUSEX_KERNEL_VERSION and minor
 * FUSEX_KERNEL_MINOR_VERSION and the flags it supports (flags2 through
 * FUSE_INIT_EXT).  The server answers with its own major (which must be
 * equal) and minor, and the subset of flags it accepts; fusex then uses the
 * smaller minor.  A server that sets no fusex-specific flag sees a plain
 * FUSE 7.38 kernel.
 */
#ifndef _UAPI_LINUX_FUSEX_H
#define _UAPI_LINUX_FUSEX_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdint.h>
#endif

/* Protocol version fusex speaks: FUSE 7.38, as Linux 6.1. */
#define FUSEX_KERNEL_VERSION		7
#define FUSEX_KERNEL_MINOR_VERSION	38

/* The misc device a server opens, and the filesystem type it mounts. */
#define FUSEX_DEVICE_NAME		"fusex"
#define FUSEX_FS_TYPE			"fusex"

#endif /* _UAPI_LINUX_FUSEX_H */
