/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fusex: kernel-version differences, in one place.
 *
 * Force-included into every object by kmod/Kbuild, so the rest of the
 * module reads like code for the newest kernel we support and calls the
 * fusex_ wrappers below where an API changed between 6.1 and 6.12.
 */
#ifndef _FUSEX_COMPAT_H
#define _FUSEX_COMPAT_H

#include <linux/version.h>
#include <linux/fs.h>
#include <linux/splice.h>

/* 6.3 replaced the user namespace argument of inode operations by an idmap. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
typedef struct mnt_idmap fusex_idmap_t;
#define fusex_nop_idmap (&nop_mnt_idmap)
#else
typedef struct user_namespace fusex_idmap_t;
#define fusex_nop_idmap (&init_user_ns)
#endif

/* 6.6 added the request mask to generic_fillattr(). */
static inline void fusex_fillattr(fusex_idmap_t *idmap, u32 request_mask,
				  struct inode *inode, struct kstat *stat)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	generic_fillattr(idmap, request_mask, inode, stat);
#else
	generic_fillattr(idmap, inode, stat);
#endif
}

/* 6.5 replaced generic_file_splice_read() by copy_splice_read(). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define fusex_splice_read copy_splice_read
#else
#define fusex_splice_read generic_file_splice_read
#endif

/*
 * 6.6 and 6.7 hid the inode timestamps behind accessors (and Debian's 6.1
 * has some of them backported), so fusex uses its own names.
 */
static inline void fusex_set_times(struct inode *inode, struct timespec64 a,
				   struct timespec64 m, struct timespec64 c)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	inode_set_atime_to_ts(inode, a);
	inode_set_mtime_to_ts(inode, m);
	inode_set_ctime_to_ts(inode, c);
#else
	inode->i_atime = a;
	inode->i_mtime = m;
	inode->i_ctime = c;
#endif
}

static inline struct timespec64 fusex_get_mtime(const struct inode *inode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	return inode_get_mtime(inode);
#else
	return inode->i_mtime;
#endif
}

/* 6.3 made write_cache_pages() hand folios to its callback. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define FUSEX_WRITEPAGE_ARG	struct folio *
#define fusex_wp_folio(x)	(x)
#else
#define FUSEX_WRITEPAGE_ARG	struct page *
#define fusex_wp_folio(x)	page_folio(x)
#endif

/* 6.8 replaced generic_copy_file_range() by splice_copy_file_range(). */
static inline ssize_t fusex_splice_copy(struct file *in, loff_t pos_in,
					struct file *out, loff_t pos_out,
					size_t len, unsigned int flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	return splice_copy_file_range(in, pos_in, out, pos_out, len);
#else
	return generic_copy_file_range(in, pos_in, out, pos_out, len, flags);
#endif
}

/* 6.12 made write_begin and write_end take folios. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define FUSEX_WB_PAGE			struct folio
#define fusex_wb_to_folio(p)		(p)
#define fusex_folio_to_wb(f)		(f)
#else
#define FUSEX_WB_PAGE			struct page
#define fusex_wb_to_folio(p)		page_folio(p)
#define fusex_folio_to_wb(f)		(&(f)->page)
#endif

/* 6.3 moved file locks out of fs.h. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#include <linux/filelock.h>
#endif

/* 6.9 moved the owner, type, flags and pid of a lock into file_lock_core. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
#define fusex_fl_type(fl)	((fl)->c.flc_type)
#define fusex_fl_owner(fl)	((fl)->c.flc_owner)
#define fusex_fl_flags(fl)	((fl)->c.flc_flags)
#define fusex_fl_pid(fl)	((fl)->c.flc_pid)
#else
#define fusex_fl_type(fl)	((fl)->fl_type)
#define fusex_fl_owner(fl)	((fl)->fl_owner)
#define fusex_fl_flags(fl)	((fl)->fl_flags)
#define fusex_fl_pid(fl)	((fl)->fl_pid)
#endif

#endif /* _FUSEX_COMPAT_H */
