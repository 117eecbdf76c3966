// SPDX-License-Identifier: GPL-2.0
/*
 * fusex: the device (/dev/fusex) and the request queue.
 *
 * A caller builds a struct fusex_args, fusex_simple_request() wraps it in a
 * struct fusex_req, queues it on fc->pending and sleeps on req->waitq.  A
 * server read(2)s the request off the queue (it moves to a processing
 * bucket, keyed by unique id) and later write(2)s the reply, which is
 * checked against what the request expects, copied into the caller's out
 * arguments, and ends the request.  Anything malformed ends the request
 * with EIO and fails the server's write with EINVAL.
 *
 * Restart (restart_timeout= mounts): when the last device file closes, the
 * connection is detached instead of aborted.  Requests stay queued, those
 * the server had read go back to the head of fc->pending marked
 * FUSE_UNIQUE_RESEND, and a delayed work aborts the connection if no server
 * attaches (FUSEX_DEV_IOC_ATTACH) in time.  A new server first gets INIT
 * again (fc->reinit_req); everything else waits for its answer.
 */

#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/pid_namespace.h>
#include <linux/uio.h>
#include <linux/slab.h>
#include <linux/highmem.h>
#include <linux/random.h>
#include <linux/file.h>
#include <linux/hash.h>
#include <linux/user_namespace.h>
#include <linux/bvec.h>
#include <linux/pipe_fs_i.h>
#include <linux/splice.h>
#include <linux/capability.h>

#include "fusex_i.h"

static struct kmem_cache *fusex_req_cachep;

/* Serialises binding a device file to a connection. */
static DEFINE_MUTEX(fusex_dev_mutex);

static const char *const fusex_opnames[] = {
	[FUSE_LOOKUP] = "LOOKUP",	[FUSE_FORGET] = "FORGET",
	[FUSE_GETATTR] = "GETATTR",	[FUSE_SETATTR] = "SETATTR",
	[FUSE_READLINK] = "READLINK",	[FUSE_SYMLINK] = "SYMLINK",
	[FUSE_MKNOD] = "MKNOD",		[FUSE_MKDIR] = "MKDIR",
	[FUSE_UNLINK] = "UNLINK",	[FUSE_RMDIR] = "RMDIR",
	[FUSE_RENAME] = "RENAME",	[FUSE_LINK] = "LINK",
	[FUSE_OPEN] = "OPEN",		[FUSE_READ] = "READ",
	[FUSE_WRITE] = "WRITE",		[FUSE_STATFS] = "STATFS",
	[FUSE_RELEASE] = "RELEASE",	[FUSE_FSYNC] = "FSYNC",
	[FUSE_SETXATTR] = "SETXATTR",	[FUSE_GETXATTR] = "GETXATTR",
	[FUSE_LISTXATTR] = "LISTXATTR",	[FUSE_REMOVEXATTR] = "REMOVEXATTR",
	[FUSE_FLUSH] = "FLUSH",		[FUSE_INIT] = "INIT",
	[FUSE_OPENDIR] = "OPENDIR",	[FUSE_READDIR] = "READDIR",
	[FUSE_RELEASEDIR] = "RELEASEDIR", [FUSE_FSYNCDIR] = "FSYNCDIR",
	[FUSE_GETLK] = "GETLK",		[FUSE_SETLK] = "SETLK",
	[FUSE_SETLKW] = "SETLKW",	[FUSE_ACCESS] = "ACCESS",
	[FUSE_CREATE] = "CREATE",	[FUSE_INTERRUPT] = "INTERRUPT",
	[FUSE_BMAP] = "BMAP",		[FUSE_DESTROY] = "DESTROY",
	[FUSE_IOCTL] = "IOCTL",		[FUSE_POLL] = "POLL",
	[FUSE_NOTIFY_REPLY] = "NOTIFY_REPLY",
	[FUSE_BATCH_FORGET] = "BATCH_FORGET",
	[FUSE_FALLOCATE] = "FALLOCATE",	[FUSE_READDIRPLUS] = "READDIRPLUS",
	[FUSE_RENAME2] = "RENAME2",	[FUSE_LSEEK] = "LSEEK",
	[FUSE_COPY_FILE_RANGE] = "COPY_FILE_RANGE",
	[FUSE_SETUPMAPPING] = "SETUPMAPPING",
	[FUSE_REMOVEMAPPING] = "REMOVEMAPPING",
	[FUSE_SYNCFS] = "SYNCFS",	[FUSE_TMPFILE] = "TMPFILE",
	[FUSE_LOOKUP_HANDLE] = "LOOKUP_HANDLE",
};

const char *fusex_opname(u32 opcode)
{
	if (opcode < ARRAY_SIZE(fusex_opnames) && fusex_opnames[opcode])
		return fusex_opnames[opcode];
	return "UNKNOWN";
}

static struct fusex_dev *fusex_get_dev(struct file *file)
{
	/* Pairs with smp_store_release() in fusex_dev_attach(). */
	return smp_load_acquire(&file->private_data);
}

struct fusex_conn *fusex_conn_get(struct fusex_conn *fc)
{
	refcount_inc(&fc->count);
	return fc;
}

void fusex_conn_put(struct fusex_conn *fc)
{
	if (!refcount_dec_and_test(&fc->count))
		return;
	put_pid_ns(fc->pid_ns);
	put_user_ns(fc->user_ns);
	kfree(fc);
}

static void fusex_restart_timeout_work(struct work_struct *work);

void fusex_conn_init(struct fusex_conn *fc, struct user_namespace *user_ns)
{
	int i;

	spin_lock_init(&fc->lock);
	init_rwsem(&fc->killsb);
	refcount_set(&fc->count, 1);
	INIT_LIST_HEAD(&fc->pending);
	for (i = 0; i < FUSEX_PQ_HASH_SIZE; i++)
		INIT_LIST_HEAD(&fc->processing[i]);
	INIT_LIST_HEAD(&fc->interrupts);
	INIT_LIST_HEAD(&fc->forgets);
	INIT_LIST_HEAD(&fc->devices);
	init_waitqueue_head(&fc->waitq);
	init_waitqueue_head(&fc->blocked_waitq);
	INIT_DELAYED_WORK(&fc->restart_work, fusex_restart_timeout_work);
	atomic_set(&fc->num_waiting, 0);
	atomic64_set(&fc->resent, 0);
	atomic64_set(&fc->reval_handle, 0);
	atomic64_set(&fc->reval_name, 0);
	atomic64_set(&fc->reopens, 0);
	atomic64_set(&fc->stale, 0);
	atomic64_set(&fc->locks_lost, 0);
	atomic64_set(&fc->attr_version, 1);
	fc->connected = true;
	fc->max_pages = FUSEX_DEFAULT_MAX_PAGES;
	fc->user_ns = get_user_ns(user_ns);
	fc->pid_ns = get_pid_ns(task_active_pid_ns(current));
	get_random_bytes(&fc->scramble_key, sizeof(fc->scramble_key));
}

static unsigned int fusex_pq_hash(u64 unique)
{
	return hash_long(unique & ~1ULL, FUSEX_PQ_HASH_BITS);
}

/* Called with fc->lock held. */
static struct fusex_req *fusex_find_processing(struct fusex_conn *fc,
					       u64 unique)
{
	struct fusex_req *req;

	list_for_each_entry(req, &fc->processing[fusex_pq_hash(unique)], list) {
		if (req->in_h.unique == unique)
			return req;
	}
	return NULL;
}

static struct fusex_req *fusex_request_alloc(struct fusex_conn *fc, gfp_t gfp)
{
	struct fusex_req *req = kmem_cache_zalloc(fusex_req_cachep, gfp);

	if (!req)
		return NULL;
	INIT_LIST_HEAD(&req->list);
	INIT_LIST_HEAD(&req->intr_entry);
	init_waitqueue_head(&req->waitq);
	refcount_set(&req->count, 1);
	req->fc = fc;
	atomic_inc(&fc->num_waiting);
	return req;
}

static void fusex_put_request(struct fusex_req *req)
{
	struct fusex_conn *fc = req->fc;

	if (!refcount_dec_and_test(&req->count))
		return;
	kmem_cache_free(fusex_req_cachep, req);
	/* Unmount waits for the last request of an aborted connection. */
	if (atomic_dec_and_test(&fc->num_waiting))
		wake_up_all(&fc->blocked_waitq);
}

/*
 * End a request: the reply (or the error) is in req->out_h.  Wakes the
 * caller or runs the background callback.  Drops the queue's reference.
 */
static void fusex_request_end(struct fusex_req *req)
{
	struct fusex_conn *fc = req->fc;

	if (test_and_set_bit(FR_FINISHED, &req->flags))
		goto put;

	spin_lock(&fc->lock);
	list_del_init(&req->intr_entry);
	spin_unlock(&fc->lock);

	if (test_bit(FR_BACKGROUND, &req->flags))
		req->args->end(fc, req->args, req->out_h.error);
	else
		wake_up(&req->waitq);
put:
	fusex_put_request(req);
}

static void fusex_end_requests(struct list_head *head)
{
	while (!list_empty(head)) {
		struct fusex_req *req;

		req = list_first_entry(head, struct fusex_req, list);
		list_del_init(&req->list);
		fusex_request_end(req);
	}
}

/* Called with fc->lock held. */
static void fusex_wake_readers(struct fusex_conn *fc)
{
	wake_up(&fc->waitq);
	kill_fasync(&fc->fasync, SIGIO, POLL_IN);
}

static void fusex_fill_in_header(struct fusex_req *req)
{
	struct fusex_args *args = req->args;
	struct fuse_in_header *ih = &req->in_h;
	unsigned int i;

	ih->opcode = args->opcode;
	ih->nodeid = args->nodeid;
	ih->len = sizeof(*ih);
	for (i = 0; i < args->in_numargs; i++)
		ih->len += args->in_args[i].size;
	if (args->nocreds) {
		ih->uid = (u32)-1;
		ih->gid = (u32)-1;
		ih->pid = 0;
		return;
	}
	ih->uid = from_kuid_munged(req->fc->user_ns, current_fsuid());
	ih->gid = from_kgid_munged(req->fc->user_ns, current_fsgid());
	ih->pid = pid_nr_ns(task_pid(current), req->fc->pid_ns);
}

static bool fusex_args_bound(struct fusex_args *args)
{
	return args->bind.inode[0] || args->bind.file[0];
}

/*
 * Queue a request for the server.  Takes a reference for the queue.
 * Returns 0, -ENOTCONN if the connection is gone, or -EAGAIN if the ids in
 * it are an instance's that has died since they were filled in.
 */
static int fusex_queue_request(struct fusex_conn *fc, struct fusex_req *req)
{
	struct fusex_args *args = req->args;

	spin_lock(&fc->lock);
	if (!fc->connected) {
		spin_unlock(&fc->lock);
		return -ENOTCONN;
	}
	if (fusex_args_bound(args)) {
		if (args->epoch != fc->epoch) {
			spin_unlock(&fc->lock);
			return -EAGAIN;
		}
	} else {
		args->epoch = fc->epoch;
	}
	fc->reqctr += FUSEX_REQ_ID_STEP;
	req->in_h.unique = args->notify_unique ?: args->resend_unique ?:
			   fc->reqctr;
	refcount_inc(&req->count);
	set_bit(FR_PENDING, &req->flags);
	list_add_tail(&req->list, &fc->pending);
	fusex_wake_readers(fc);
	spin_unlock(&fc->lock);
	return 0;
}

static void fusex_queue_interrupt(struct fusex_req *req)
{
	struct fusex_conn *fc = req->fc;

	spin_lock(&fc->lock);
	if (fc->connected && !fc->detached && list_empty(&req->intr_entry) &&
	    !test_bit(FR_FINISHED, &req->flags)) {
		list_add_tail(&req->intr_entry, &fc->interrupts);
		fusex_wake_readers(fc);
	}
	spin_unlock(&fc->lock);
}

/*
 * Take back a request the server has not read: it ends with EINTR.  With
 * @no_server, only while there is no server to interrupt (detached, or a
 * new one not past its re-INIT).  True if it was taken back.
 */
static bool fusex_take_back(struct fusex_conn *fc, struct fusex_req *req,
			    bool no_server)
{
	spin_lock(&fc->lock);
	if ((no_server && !fc->detached && !fc->reinit_req) ||
	    !test_bit(FR_PENDING, &req->flags)) {
		spin_unlock(&fc->lock);
		return false;
	}
	clear_bit(FR_PENDING, &req->flags);
	list_del_init(&req->list);
	spin_unlock(&fc->lock);
	req->out_h.error = -EINTR;
	set_bit(FR_FINISHED, &req->flags);
	/* The queue's reference. */
	fusex_put_request(req);
	return true;
}

/*
 * Sleep until the request is answered.  Any signal sends FUSE_INTERRUPT
 * (once the server has read the request), forced requests (FLUSH) too, as
 * on fuse; a fatal signal takes back a request the server has not read
 * yet, unless it is forced; after that the caller waits for the answer or
 * for the connection to go.
 */
static void fusex_wait_answer(struct fusex_req *req)
{
	struct fusex_conn *fc = req->fc;
	int err;

	if (!READ_ONCE(fc->no_interrupt)) {
		err = wait_event_interruptible(req->waitq,
				test_bit(FR_FINISHED, &req->flags));
		if (!err)
			return;
		/*
		 * With no server to interrupt (detached, or a new one not
		 * past its re-INIT), a signal takes back a request not sent.
		 */
		if (fusex_take_back(fc, req, true))
			return;
		set_bit(FR_INTERRUPTED, &req->flags);
		/* Pairs with the barrier in fusex_dev_do_read(). */
		smp_mb__after_atomic();
		if (test_bit(FR_SENT, &req->flags))
			fusex_queue_interrupt(req);
	}

	if (!test_bit(FR_FORCE, &req->flags)) {
		err = wait_event_killable(req->waitq,
				test_bit(FR_FINISHED, &req->flags));
		if (!err || fusex_take_back(fc, req, false))
			return;
	}
	wait_event(req->waitq, test_bit(FR_FINISHED, &req->flags));
}

/* Wait for INIT; fail if the connection is gone or was refused. */
static int fusex_wait_init(struct fusex_conn *fc, struct fusex_args *args)
{
	int err;

	if (args->force)
		return 0;
	err = wait_event_killable_exclusive(fc->blocked_waitq,
					    READ_ONCE(fc->initialized));
	/* Let the next waiter in, exclusive wake-ups wake one at a time. */
	wake_up(&fc->blocked_waitq);
	if (err)
		return -EINTR;
	/* Pairs with smp_wmb() in fusex_set_initialized(). */
	smp_rmb();
	if (!READ_ONCE(fc->connected))
		return -ENOTCONN;
	if (fc->conn_error)
		return -ECONNREFUSED;
	return 0;
}

void fusex_set_initialized(struct fusex_conn *fc)
{
	/* What INIT negotiated is visible before initialized is. */
	smp_wmb();
	WRITE_ONCE(fc->initialized, true);
	wake_up_all(&fc->blocked_waitq);
}

/**
 * fusex_simple_request - send a request and wait for its answer
 * @fc: the connection
 * @args: what to send; out arguments receive the reply
 *
 * Return: negative errno, or the size of the last out argument when it is
 * variable (@args->out_argvar), else 0.
 */
ssize_t fusex_simple_request(struct fusex_conn *fc, struct fusex_args *args)
{
	struct fusex_req *req;
	ssize_t ret;

	ret = fusex_wait_init(fc, args);
	if (ret)
		return ret;

again:
	/* The ids it carries, of the current server instance. */
	ret = fusex_bind_args(fc, args, true);
	if (ret)
		return ret > 0 ? 0 : ret;
	req = fusex_request_alloc(fc, GFP_KERNEL);
	if (!req)
		return -ENOMEM;
	req->args = args;
	if (args->force)
		set_bit(FR_FORCE, &req->flags);
	if (!args->noreply)
		set_bit(FR_ISREPLY, &req->flags);
	fusex_fill_in_header(req);

	ret = fusex_queue_request(fc, req);
	if (ret == -EAGAIN)
		goto rebind;
	if (ret)
		goto out;
	fusex_wait_answer(req);
	/* Pairs with the write of out_h before FR_FINISHED is set. */
	smp_rmb();
	if (test_bit(FR_REBIND, &req->flags))
		goto rebind;

	ret = req->out_h.error;
	if (!ret && args->out_argvar)
		ret = args->out_size;
out:
	fusex_put_request(req);
	return ret;

rebind:
	/* A new server took over before the ids in it were used. */
	fusex_put_request(req);
	if (fatal_signal_pending(current))
		return -EINTR;
	goto again;
}

/**
 * fusex_simple_background - send a request nobody waits for
 * @fc: the connection
 * @args: what to send; must live until @args->end has run
 * @gfp: allocation flags
 *
 * @args->end runs exactly once if this returns 0; on error it does not run.
 */
int fusex_simple_background(struct fusex_conn *fc, struct fusex_args *args,
			    gfp_t gfp)
{
	struct fusex_req *req;
	int err;

	/* No revalidation from here: a stale id fails it (or drops it). */
	err = fusex_bind_args(fc, args, false);
	if (err > 0) {
		args->end(fc, args, 0);
		return 0;
	}
	if (err)
		return err;
	req = fusex_request_alloc(fc, gfp);
	if (!req)
		return -ENOMEM;
	req->args = args;
	__set_bit(FR_BACKGROUND, &req->flags);
	if (!args->noreply)
		__set_bit(FR_ISREPLY, &req->flags);
	if (args->force)
		__set_bit(FR_FORCE, &req->flags);
	args->nocreds = true;
	fusex_fill_in_header(req);

	err = fusex_queue_request(fc, req);
	/* The queue holds the request now, if it took it. */
	fusex_put_request(req);
	return err == -EAGAIN ? -ESTALE : err;
}

struct fusex_forget *fusex_alloc_forget(void)
{
	return kzalloc(sizeof(struct fusex_forget), GFP_KERNEL_ACCOUNT);
}

/* Queue a FORGET for a nodeid of instance @epoch; takes @forget. */
void fusex_queue_forget(struct fusex_conn *fc, struct fusex_forget *forget,
			u64 nodeid, u64 nlookup, u32 epoch)
{
	forget->nodeid = nodeid;
	forget->nlookup = nlookup;

	spin_lock(&fc->lock);
	/* A dead instance's nodeids mean nothing to the next server. */
	if (fc->connected && !fc->detached && epoch == fc->epoch) {
		list_add_tail(&forget->list, &fc->forgets);
		fusex_wake_readers(fc);
		forget = NULL;
	}
	spin_unlock(&fc->lock);
	kfree(forget);
}

static void fusex_free_forgets(struct list_head *head)
{
	struct fusex_forget *forget, *next;

	list_for_each_entry_safe(forget, next, head, list)
		kfree(forget);
}

/*
 * End the connection: every request fails with @error, new ones get
 * ENOTCONN, readers of the device ENODEV.  With @timed_out, only if the
 * connection is still detached and its time is up (the restart work).
 * Returns true if this call aborted it.
 */
static bool __fusex_abort_conn(struct fusex_conn *fc, bool timed_out,
			       int error)
{
	struct fusex_req *req;
	LIST_HEAD(to_end);
	LIST_HEAD(forgets);
	bool put_work;
	int i;

	spin_lock(&fc->lock);
	if (!fc->connected ||
	    (timed_out && (!fc->detached ||
			   time_before(jiffies, fc->detach_deadline)))) {
		spin_unlock(&fc->lock);
		return false;
	}
	fc->connected = false;
	fc->detached = false;
	/* On a queue: ended below with the rest. */
	fc->reinit_req = NULL;
	/* Not from the work itself: it is running, not pending. */
	put_work = cancel_delayed_work(&fc->restart_work);
	list_for_each_entry(req, &fc->pending, list) {
		clear_bit(FR_PENDING, &req->flags);
		req->out_h.error = error;
	}
	list_splice_tail_init(&fc->pending, &to_end);
	for (i = 0; i < FUSEX_PQ_HASH_SIZE; i++) {
		list_for_each_entry(req, &fc->processing[i], list)
			req->out_h.error = error;
		list_splice_tail_init(&fc->processing[i], &to_end);
	}
	while (!list_empty(&fc->interrupts)) {
		req = list_first_entry(&fc->interrupts, struct fusex_req,
				       intr_entry);
		list_del_init(&req->intr_entry);
	}
	list_splice_init(&fc->forgets, &forgets);
	wake_up_all(&fc->waitq);
	kill_fasync(&fc->fasync, SIGIO, POLL_IN);
	spin_unlock(&fc->lock);

	fusex_free_forgets(&forgets);
	fusex_end_requests(&to_end);

	/* Callers blocked on INIT must see the abort. */
	if (!READ_ONCE(fc->initialized))
		fusex_set_initialized(fc);
	/* The work's reference; never the last, the caller has one. */
	if (put_work)
		fusex_conn_put(fc);
	return true;
}

/**
 * fusex_abort_conn - end the connection: every request fails
 * @fc: the connection
 *
 * Requests waiting or in the server's hands end with ECONNABORTED, as on
 * fuse; new ones get ENOTCONN; readers of the device get ENODEV.
 */
void fusex_abort_conn(struct fusex_conn *fc)
{
	__fusex_abort_conn(fc, false, -ECONNABORTED);
}

/* restart_timeout passed with no server: abort, callers get ENOTCONN. */
static void fusex_restart_timeout_work(struct work_struct *work)
{
	struct fusex_conn *fc = container_of(to_delayed_work(work),
					     struct fusex_conn, restart_work);

	if (__fusex_abort_conn(fc, true, -ENOTCONN))
		pr_warn("no server attached within restart_timeout=%u s: connection aborted\n",
			fc->restart_timeout);
	fusex_conn_put(fc);
}

/* Unmount: the restart work must not outlive the module. */
void fusex_restart_stop(struct fusex_conn *fc)
{
	if (cancel_delayed_work_sync(&fc->restart_work))
		fusex_conn_put(fc);
}

bool fusex_conn_detached(struct fusex_conn *fc)
{
	bool ret;

	spin_lock(&fc->lock);
	ret = fc->detached;
	spin_unlock(&fc->lock);
	return ret;
}

/*
 * Cut the connection from its server: its device files stop serving it,
 * requests it read and did not answer go back to the head of fc->pending
 * marked FUSE_UNIQUE_RESEND, a re-INIT not yet answered is dropped (on
 * @to_end), and so are queued interrupts and forgets (on @forgets): they
 * are about the old instance.  With @arm, the timeout starts.  Called with
 * fc->lock held, on a connected restart mount.
 */
static void fusex_requeue_locked(struct fusex_conn *fc,
				 struct list_head *to_end,
				 struct list_head *forgets);

static void fusex_detach_locked(struct fusex_conn *fc,
				struct list_head *to_end,
				struct list_head *forgets, bool arm)
{
	struct fusex_dev *fud, *fnext;

	list_for_each_entry_safe(fud, fnext, &fc->devices, entry) {
		WRITE_ONCE(fud->disconnected, true);
		list_del_init(&fud->entry);
	}
	fusex_requeue_locked(fc, to_end, forgets);
	fc->detached = true;
	fc->detached_at = ktime_get();
	/* Readers of the old device files leave with ENODEV. */
	wake_up_all(&fc->waitq);
	if (!arm)
		return;
	fc->detach_deadline = jiffies + (unsigned long)fc->restart_timeout * HZ;
	/* The work holds a reference while queued. */
	refcount_inc(&fc->count);
	if (!schedule_delayed_work(&fc->restart_work,
				   (unsigned long)fc->restart_timeout * HZ))
		refcount_dec(&fc->count);
}

/*
 * The server instance that read what is in processing is gone: those
 * requests go back to the head of fc->pending marked FUSE_UNIQUE_RESEND,
 * a re-INIT not yet answered is dropped (on @to_end), and so are queued
 * interrupts and forgets (on @forgets).  Called with fc->lock held.
 */
static void fusex_requeue_locked(struct fusex_conn *fc,
				 struct list_head *to_end,
				 struct list_head *forgets)
{
	struct fusex_req *req, *next;
	LIST_HEAD(resend);
	int i;

	for (i = 0; i < FUSEX_PQ_HASH_SIZE; i++)
		list_splice_tail_init(&fc->processing[i], &resend);
	list_for_each_entry_safe(req, next, &resend, list) {
		clear_bit(FR_SENT, &req->flags);
		if (test_bit(FR_REINIT, &req->flags)) {
			req->out_h.error = -ECONNRESET;
			list_move_tail(&req->list, to_end);
			continue;
		}
		/* A FLUSH or RELEASE of the dead instance's file: done. */
		if (req->args->drop_stale) {
			req->out_h.error = 0;
			list_move_tail(&req->list, to_end);
			continue;
		}
		req->in_h.unique |= FUSE_UNIQUE_RESEND;
		set_bit(FR_PENDING, &req->flags);
		atomic64_inc(&fc->resent);
	}
	list_splice(&resend, &fc->pending);
	req = fc->reinit_req;
	if (req && test_bit(FR_PENDING, &req->flags)) {
		clear_bit(FR_PENDING, &req->flags);
		req->out_h.error = -ECONNRESET;
		list_move_tail(&req->list, to_end);
	}
	/* One being copied to the old server sees FR_REINIT and ends. */
	fc->reinit_req = NULL;
	while (!list_empty(&fc->interrupts)) {
		req = list_first_entry(&fc->interrupts, struct fusex_req,
				       intr_entry);
		list_del_init(&req->intr_entry);
	}
	list_splice_tail_init(&fc->forgets, forgets);
	fc->forget_batch = 0;
}

/* Called by INIT's reply handler: a re-INIT was answered. */
void fusex_reinit_end(struct fusex_conn *fc, struct fusex_args *args,
		      bool ok)
{
	LIST_HEAD(to_end);
	LIST_HEAD(forgets);

	spin_lock(&fc->lock);
	/* Replaced or aborted meanwhile: not the current re-INIT. */
	if (!fc->connected || !fc->reinit_req ||
	    fc->reinit_req->args != args) {
		spin_unlock(&fc->lock);
		return;
	}
	fc->reinit_req = NULL;
	if (ok) {
		ktime_t now = ktime_get();

		fc->startup_ns = ktime_to_ns(ktime_sub(now, fc->attached_at));
		fc->down_ns = ktime_to_ns(ktime_sub(now, fc->detached_at));
		fusex_wake_readers(fc);
	} else
		fusex_detach_locked(fc, &to_end, &forgets, true);
	spin_unlock(&fc->lock);
	fusex_free_forgets(&forgets);
	fusex_end_requests(&to_end);
	if (!ok)
		pr_warn("server detached again: waiting up to %u s for another\n",
			fc->restart_timeout);
}

static struct fusex_req *fusex_reinit_alloc(struct fusex_conn *fc);
static void fusex_start_instance_locked(struct fusex_conn *fc,
					struct fusex_req *req,
					struct list_head *to_end);

/**
 * fusex_notify_restarted - FUSE_NOTIFY_RESTARTED
 * @fud: the device it was written to
 * @size: its size
 * @from: the notification
 *
 * From a device attached by FUSEX_DEV_IOC_ATTACH, the first one names the
 * instance the attach started.  From any other device it says that a new
 * server instance has taken the fd over (fd passing, systemd's fd store):
 * what the old instance read and did not answer is sent again, cached
 * inodes and open files are the dead instance's, and INIT goes again
 * first, as after an attach.
 *
 * Return: 0 or a negative errno for the server's write.
 */
int fusex_notify_restarted(struct fusex_dev *fud, size_t size,
			   struct iov_iter *from)
{
	struct fusex_conn *fc = fud->fc;
	struct fusex_notify_restarted_out out;
	struct fusex_req *req = NULL;
	bool takeover = false;
	LIST_HEAD(to_end);
	LIST_HEAD(forgets);
	unsigned int n;

	if (!fc->restart_timeout || size != sizeof(out))
		return -EINVAL;
	if (copy_from_iter(&out, sizeof(out), from) != sizeof(out))
		return -EFAULT;
	if (out.padding)
		return -EINVAL;
	/* Before INIT is answered there is nothing to take over. */
	if (READ_ONCE(fc->initialized)) {
		req = fusex_reinit_alloc(fc);
		if (!req)
			return -ENOMEM;
	}

	spin_lock(&fc->lock);
	if (!fc->connected || fc->conn_error || fud->disconnected) {
		spin_unlock(&fc->lock);
		if (req) {
			fusex_free_init(req->args);
			fusex_put_request(req);
		}
		return -ENODEV;
	}
	fc->instance_id = out.instance_id;
	n = ++fc->restarts;
	if (fud->attached_new) {
		fud->attached_new = false;
	} else if (req && !fc->reinit_req) {
		fusex_requeue_locked(fc, &to_end, &forgets);
		fusex_start_instance_locked(fc, req, &to_end);
		fc->detached_at = fc->attached_at;
		fusex_wake_readers(fc);
		takeover = true;
	}
	spin_unlock(&fc->lock);

	fusex_free_forgets(&forgets);
	fusex_end_requests(&to_end);
	if (req) {
		if (!takeover)
			fusex_free_init(req->args);
		/* Ours; if queued, the queue holds its own. */
		fusex_put_request(req);
	}
	pr_info("server instance %llu took over (restart %u%s)\n",
		out.instance_id, n, takeover ? ", on a passed fd" : "");
	return 0;
}

/* Wait until every request of an aborted connection has been freed. */
void fusex_wait_aborted(struct fusex_conn *fc)
{
	wait_event(fc->blocked_waitq, atomic_read(&fc->num_waiting) == 0);
}

/* Called with fc->lock held. */
static bool fusex_work_pending(struct fusex_conn *fc)
{
	/* A new server gets its re-INIT first, and then nothing until answered. */
	if (fc->reinit_req)
		return test_bit(FR_PENDING, &fc->reinit_req->flags);
	return !list_empty(&fc->pending) || !list_empty(&fc->interrupts) ||
	       !list_empty(&fc->forgets);
}

static bool fusex_reader_may_go(struct fusex_conn *fc, struct fusex_dev *fud)
{
	bool ret;

	spin_lock(&fc->lock);
	ret = !fc->connected || fud->disconnected || fusex_work_pending(fc);
	spin_unlock(&fc->lock);
	return ret;
}

/* Send FUSE_INTERRUPT for @req.  Called with fc->lock held; drops it. */
static ssize_t fusex_read_interrupt(struct fusex_conn *fc,
				    struct fusex_req *req, struct iov_iter *to)
	__releases(fc->lock)
{
	struct fuse_in_header ih = {
		.opcode = FUSE_INTERRUPT,
		.unique = req->in_h.unique | FUSEX_INT_REQ_BIT,
		.len = sizeof(ih) + sizeof(struct fuse_interrupt_in),
	};
	struct fuse_interrupt_in arg = { .unique = req->in_h.unique };

	list_del_init(&req->intr_entry);
	spin_unlock(&fc->lock);

	if (iov_iter_count(to) < ih.len)
		return -EINVAL;
	if (copy_to_iter(&ih, sizeof(ih), to) != sizeof(ih) ||
	    copy_to_iter(&arg, sizeof(arg), to) != sizeof(arg))
		return -EFAULT;
	return ih.len;
}

/*
 * Send queued forgets, batched when the server is new enough.  Called with
 * fc->lock held; drops it.  A forget that cannot be copied is lost, which
 * only leaks a lookup count in the server, as on fuse.
 */
static ssize_t fusex_read_forgets(struct fusex_conn *fc, struct iov_iter *to)
	__releases(fc->lock)
{
	size_t room = iov_iter_count(to);
	struct fuse_batch_forget_in bin = { 0 };
	struct fuse_in_header ih = { 0 };
	struct fusex_forget *forget, *next;
	unsigned int max;
	LIST_HEAD(batch);
	ssize_t ret;

	if (fc->minor < 16 ||
	    list_is_singular(&fc->forgets)) {
		struct fuse_forget_in arg;

		forget = list_first_entry(&fc->forgets, struct fusex_forget,
					  list);
		list_del(&forget->list);
		spin_unlock(&fc->lock);

		ih.opcode = FUSE_FORGET;
		ih.nodeid = forget->nodeid;
		ih.unique = 0;
		ih.len = sizeof(ih) + sizeof(arg);
		arg.nlookup = forget->nlookup;
		kfree(forget);
		if (room < ih.len)
			return -EINVAL;
		if (copy_to_iter(&ih, sizeof(ih), to) != sizeof(ih) ||
		    copy_to_iter(&arg, sizeof(arg), to) != sizeof(arg))
			return -EFAULT;
		return ih.len;
	}

	max = (room - sizeof(ih) - sizeof(bin)) /
	      sizeof(struct fuse_forget_one);
	list_for_each_entry_safe(forget, next, &fc->forgets, list) {
		if (bin.count >= max)
			break;
		list_move_tail(&forget->list, &batch);
		bin.count++;
	}
	spin_unlock(&fc->lock);

	ih.opcode = FUSE_BATCH_FORGET;
	ih.len = sizeof(ih) + sizeof(bin) +
		 bin.count * sizeof(struct fuse_forget_one);
	ret = ih.len;
	if (copy_to_iter(&ih, sizeof(ih), to) != sizeof(ih) ||
	    copy_to_iter(&bin, sizeof(bin), to) != sizeof(bin))
		ret = -EFAULT;
	list_for_each_entry_safe(forget, next, &batch, list) {
		struct fuse_forget_one one = {
			.nodeid = forget->nodeid,
			.nlookup = forget->nlookup,
		};

		if (ret > 0 && copy_to_iter(&one, sizeof(one), to) !=
		    sizeof(one))
			ret = -EFAULT;
		kfree(forget);
	}
	return ret;
}

static int fusex_copy_in_args(struct fusex_req *req, struct iov_iter *to)
{
	struct fusex_args *args = req->args;
	unsigned int i;

	if (copy_to_iter(&req->in_h, sizeof(req->in_h), to) !=
	    sizeof(req->in_h))
		return -EFAULT;
	for (i = 0; i < args->in_numargs; i++) {
		struct fusex_arg *arg = &args->in_args[i];

		if (copy_to_iter(arg->value, arg->size, to) != arg->size)
			return -EFAULT;
	}
	return 0;
}

/*
 * Hand the server the next message: an interrupt, forgets, or a request.
 * @cap is how much the server can take (for read(), the size of @to); it
 * must hold the largest request.  When the next request is larger than @to
 * but fits @cap, it stays queued and -EOVERFLOW asks the caller (splice)
 * for a larger @to.
 */
static ssize_t fusex_dev_do_read(struct fusex_dev *fud, struct file *file,
				 struct iov_iter *to, size_t cap)
{
	struct fusex_conn *fc = fud->fc;
	struct fusex_req *req;
	size_t reqsize;
	ssize_t err;

	/* The server must be able to take the largest request whole. */
	if (cap < max_t(size_t, FUSEX_MIN_READ_BUFFER,
			sizeof(struct fuse_in_header) +
			sizeof(struct fuse_write_in) + fc->max_write))
		return -EINVAL;
restart:
	for (;;) {
		spin_lock(&fc->lock);
		if (!fc->connected || fud->disconnected ||
		    fusex_work_pending(fc))
			break;
		spin_unlock(&fc->lock);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		err = wait_event_interruptible_exclusive(fc->waitq,
						fusex_reader_may_go(fc, fud));
		if (err)
			return err;
	}

	if (!fc->connected || fud->disconnected) {
		spin_unlock(&fc->lock);
		return -ENODEV;
	}

	if (fc->reinit_req) {
		req = fc->reinit_req;
		goto take;
	}

	if (!list_empty(&fc->interrupts)) {
		req = list_first_entry(&fc->interrupts, struct fusex_req,
				       intr_entry);
		return fusex_read_interrupt(fc, req, to);
	}

	if (!list_empty(&fc->forgets)) {
		if (list_empty(&fc->pending) ||
		    fc->forget_batch < FUSEX_FORGET_BATCH) {
			fc->forget_batch++;
			return fusex_read_forgets(fc, to);
		}
	}
	fc->forget_batch = 0;

	req = list_first_entry(&fc->pending, struct fusex_req, list);
take:
	if (req->in_h.len > iov_iter_count(to) && req->in_h.len <= cap) {
		spin_unlock(&fc->lock);
		return -EOVERFLOW;
	}
	clear_bit(FR_PENDING, &req->flags);
	list_del_init(&req->list);
	/* Our reference while the request is in neither list. */
	refcount_inc(&req->count);
	spin_unlock(&fc->lock);

	reqsize = req->in_h.len;
	if (iov_iter_count(to) < reqsize) {
		/* Too big for this server's buffer: it can never be sent. */
		req->out_h.error = -EIO;
		if (req->args->opcode == FUSE_SETXATTR)
			req->out_h.error = -E2BIG;
		fusex_request_end(req);
		fusex_put_request(req);
		goto restart;
	}

	err = fusex_copy_in_args(req, to);

	spin_lock(&fc->lock);
	if (!fc->connected) {
		spin_unlock(&fc->lock);
		req->out_h.error = -ECONNABORTED;
		fusex_request_end(req);
		fusex_put_request(req);
		return -ENODEV;
	}
	if (fud->disconnected) {
		/* This server is gone and never gets it: the next one will. */
		if (test_bit(FR_REINIT, &req->flags)) {
			spin_unlock(&fc->lock);
			req->out_h.error = -ECONNRESET;
			fusex_request_end(req);
		} else if (fusex_args_bound(req->args) &&
			   req->args->epoch != fc->epoch) {
			/* Its ids are the replaced server's: bind again. */
			spin_unlock(&fc->lock);
			set_bit(FR_REBIND, &req->flags);
			req->out_h.error = -ESTALE;
			fusex_request_end(req);
		} else {
			if (!fusex_args_bound(req->args))
				req->args->epoch = fc->epoch;
			set_bit(FR_PENDING, &req->flags);
			list_add(&req->list, &fc->pending);
			spin_unlock(&fc->lock);
		}
		fusex_put_request(req);
		return -ENODEV;
	}
	if (err) {
		spin_unlock(&fc->lock);
		req->out_h.error = -EIO;
		fusex_request_end(req);
		fusex_put_request(req);
		return err;
	}
	if (!test_bit(FR_ISREPLY, &req->flags)) {
		spin_unlock(&fc->lock);
		fusex_request_end(req);
		fusex_put_request(req);
		return reqsize;
	}
	list_add_tail(&req->list,
		      &fc->processing[fusex_pq_hash(req->in_h.unique)]);
	set_bit(FR_SENT, &req->flags);
	/* Pairs with the barrier in fusex_wait_answer(). */
	smp_mb__after_atomic();
	if (test_bit(FR_INTERRUPTED, &req->flags) &&
	    list_empty(&req->intr_entry)) {
		list_add_tail(&req->intr_entry, &fc->interrupts);
		fusex_wake_readers(fc);
	}
	spin_unlock(&fc->lock);
	fusex_put_request(req);
	return reqsize;
}

static ssize_t fusex_dev_read(struct kiocb *iocb, struct iov_iter *to)
{
	struct fusex_dev *fud = fusex_get_dev(iocb->ki_filp);

	if (!fud)
		return -EPERM;
	return fusex_dev_do_read(fud, iocb->ki_filp, to, iov_iter_count(to));
}

/* What the next read would need: a page, or the size of the request. */
static size_t fusex_next_read_size(struct fusex_conn *fc)
{
	size_t size = PAGE_SIZE;
	struct fusex_req *req;

	spin_lock(&fc->lock);
	if (list_empty(&fc->interrupts) && !list_empty(&fc->pending)) {
		req = list_first_entry(&fc->pending, struct fusex_req, list);
		size = max_t(size_t, size, req->in_h.len);
	}
	spin_unlock(&fc->lock);
	return size;
}

/*
 * splice() from the device, which libfuse does whenever it can.  The
 * message goes into as many new pages as it needs, which are then moved
 * into the pipe.  (The generic copy_splice_read() would allocate all of
 * @len, a megabyte for libfuse, for every request.)  Called with the pipe
 * locked, as fuse's does, it may sleep waiting for a request.
 */
static ssize_t fusex_dev_splice_read(struct file *in, loff_t *ppos,
				     struct pipe_inode_info *pipe, size_t len,
				     unsigned int flags)
{
	struct fusex_dev *fud = fusex_get_dev(in);
	unsigned int slots, npages, i;
	struct bio_vec *bvec;
	struct iov_iter to;
	size_t cap, need;
	ssize_t ret;

	if (!fud)
		return -EPERM;
	slots = pipe->max_usage - pipe_occupancy(pipe->head, pipe->tail);
	if (!slots)
		return -EAGAIN;
	cap = min_t(size_t, len, (size_t)slots * PAGE_SIZE);

	for (;;) {
		need = min(fusex_next_read_size(fud->fc), cap);
		npages = DIV_ROUND_UP(need, PAGE_SIZE);
		bvec = kcalloc(npages, sizeof(*bvec), GFP_KERNEL);
		if (!bvec)
			return -ENOMEM;
		for (i = 0; i < npages; i++) {
			bvec[i].bv_page = alloc_page(GFP_KERNEL);
			if (!bvec[i].bv_page) {
				ret = -ENOMEM;
				goto out;
			}
			bvec[i].bv_len = PAGE_SIZE;
			bvec[i].bv_offset = 0;
		}
		iov_iter_bvec(&to, ITER_DEST, bvec, npages, need);
		ret = fusex_dev_do_read(fud, in, &to, cap);
		if (ret != -EOVERFLOW)
			break;
		/* A larger request came first: try again with its size. */
		for (i = 0; i < npages; i++)
			__free_page(bvec[i].bv_page);
		kfree(bvec);
	}

	for (i = 0; ret > 0 && i < DIV_ROUND_UP(ret, PAGE_SIZE); i++) {
		struct pipe_buffer buf = {
			.ops = &nosteal_pipe_buf_ops,
			.page = bvec[i].bv_page,
			.len = min_t(size_t, PAGE_SIZE, ret - i * PAGE_SIZE),
		};

		/* The pipe owns the page now, even if this fails. */
		bvec[i].bv_page = NULL;
		if (add_to_pipe(pipe, &buf) < 0) {
			/* Cannot happen: the slots were counted. */
			ret = -EIO;
		}
	}
out:
	for (i = 0; i < npages; i++)
		if (bvec[i].bv_page)
			__free_page(bvec[i].bv_page);
	kfree(bvec);
	return ret;
}

/*
 * Check the size of a reply against what its request can take and copy it
 * into the out arguments.  Returns 0 or -EINVAL (malformed) or -EFAULT.
 */
static int fusex_copy_out_args(struct fusex_req *req, struct iov_iter *from,
			       size_t payload)
{
	struct fusex_args *args = req->args;
	size_t want = 0, fixed;
	unsigned int i, last;

	if (!args->out_numargs) {
		if (payload) {
			fusex_bad_reply("%s: %zu bytes where none are expected\n",
					fusex_opname(args->opcode), payload);
			return -EINVAL;
		}
		return 0;
	}

	last = args->out_numargs - 1;
	for (i = 0; i < args->out_numargs; i++)
		want += args->out_args[i].size;
	fixed = want - args->out_args[last].size;
	if (payload > want ||
	    (!args->out_argvar && payload != want) ||
	    (args->out_argvar && payload < fixed)) {
		fusex_bad_reply("%s: %zu bytes, expected %s%zu\n",
				fusex_opname(args->opcode), payload,
				args->out_argvar ? "at most " : "", want);
		return -EINVAL;
	}

	for (i = 0; i < last; i++) {
		struct fusex_arg *arg = &args->out_args[i];

		if (copy_from_iter(arg->value, arg->size, from) != arg->size)
			return -EFAULT;
	}

	args->out_size = payload - fixed;
	if (args->out_pages) {
		struct fusex_args_pages *ap;
		size_t left = args->out_size;

		ap = container_of(args, struct fusex_args_pages, args);
		for (i = 0; i < ap->num_pages && left; i++) {
			size_t n = min_t(size_t, left, PAGE_SIZE);
			void *dst = kmap_local_page(ap->pages[i]);
			size_t got = copy_from_iter(dst, n, from);

			kunmap_local(dst);
			if (got != n)
				return -EFAULT;
			left -= n;
		}
		return 0;
	}
	if (copy_from_iter(args->out_args[last].value, args->out_size, from) !=
	    args->out_size)
		return -EFAULT;
	return 0;
}

/* A reply to FUSE_INTERRUPT.  Called with fc->lock held; drops it. */
static ssize_t fusex_interrupt_reply(struct fusex_conn *fc,
				     struct fuse_out_header *oh, size_t nbytes)
	__releases(fc->lock)
{
	struct fusex_req *req;

	req = fusex_find_processing(fc, oh->unique & ~FUSEX_INT_REQ_BIT);
	if (!req) {
		/* Already answered: the race is normal. */
		spin_unlock(&fc->lock);
		return nbytes == sizeof(*oh) ? (ssize_t)nbytes : -EINVAL;
	}
	if (nbytes != sizeof(*oh)) {
		spin_unlock(&fc->lock);
		return -EINVAL;
	}
	if (oh->error == -ENOSYS) {
		WRITE_ONCE(fc->no_interrupt, true);
	} else if (oh->error == -EAGAIN) {
		/* The server asks for the interrupt again later. */
		if (list_empty(&req->intr_entry)) {
			list_add_tail(&req->intr_entry, &fc->interrupts);
			fusex_wake_readers(fc);
		}
	}
	spin_unlock(&fc->lock);
	return nbytes;
}

/*
 * Take the request a structurally bad reply names out of the processing
 * table and end it with EIO, so its caller does not wait forever.
 */
static void fusex_fail_named_request(struct fusex_conn *fc, u64 unique)
{
	struct fusex_req *req;

	spin_lock(&fc->lock);
	req = fusex_find_processing(fc, unique);
	if (req)
		list_del_init(&req->list);
	spin_unlock(&fc->lock);
	if (!req)
		return;
	req->out_h.error = -EIO;
	fusex_request_end(req);
}

static ssize_t fusex_dev_do_write(struct fusex_dev *fud, struct iov_iter *from)
{
	struct fusex_conn *fc = fud->fc;
	size_t nbytes = iov_iter_count(from);
	struct fuse_out_header oh;
	struct fusex_req *req;
	int err;

	if (nbytes < sizeof(oh))
		return -EINVAL;
	if (copy_from_iter(&oh, sizeof(oh), from) != sizeof(oh))
		return -EFAULT;
	/*
	 * A replaced server has no say any more, notifications included
	 * (replies are checked again under fc->lock).
	 */
	if (READ_ONCE(fud->disconnected))
		return -ENODEV;

	if (oh.len != nbytes) {
		fusex_bad_reply("unique %llu: header says %u bytes, %zu written\n",
				oh.unique, oh.len, nbytes);
		fusex_fail_named_request(fc, oh.unique);
		return -EINVAL;
	}
	if (oh.unique == 0) {
		int err = fusex_notify(fud, oh.error, nbytes - sizeof(oh),
				       from);

		return err ? err : nbytes;
	}
	if (oh.error <= -512 || oh.error > 0) {
		fusex_bad_reply("unique %llu: error %d out of range\n",
				oh.unique, oh.error);
		fusex_fail_named_request(fc, oh.unique);
		return -EINVAL;
	}

	spin_lock(&fc->lock);
	if (!fc->connected) {
		spin_unlock(&fc->lock);
		return -ENOENT;
	}
	if (fud->disconnected) {
		spin_unlock(&fc->lock);
		return -ENODEV;
	}
	if (oh.unique & FUSEX_INT_REQ_BIT)
		return fusex_interrupt_reply(fc, &oh, nbytes);

	req = fusex_find_processing(fc, oh.unique);
	if (!req) {
		spin_unlock(&fc->lock);
		fusex_bad_reply("unique %llu matches no request\n", oh.unique);
		return -ENOENT;
	}
	/* Ours now: an abort no longer sees it. */
	list_del_init(&req->list);
	spin_unlock(&fc->lock);

	req->out_h.unique = oh.unique;
	req->out_h.len = oh.len;
	err = 0;
	if (oh.error) {
		req->out_h.error = oh.error;
		if (nbytes != sizeof(oh)) {
			fusex_bad_reply("%s: error %d with %zu bytes of payload\n",
					fusex_opname(req->args->opcode),
					oh.error, nbytes - sizeof(oh));
			err = -EINVAL;
		}
	} else {
		err = fusex_copy_out_args(req, from, nbytes - sizeof(oh));
	}
	if (err)
		req->out_h.error = -EIO;
	/* The caller reads out_h only after it sees FR_FINISHED. */
	smp_wmb();
	fusex_request_end(req);
	return err ? err : nbytes;
}

static ssize_t fusex_dev_write(struct kiocb *iocb, struct iov_iter *from)
{
	struct fusex_dev *fud = fusex_get_dev(iocb->ki_filp);

	if (!fud)
		return -EPERM;
	return fusex_dev_do_write(fud, from);
}

static __poll_t fusex_dev_poll(struct file *file, poll_table *wait)
{
	struct fusex_dev *fud = fusex_get_dev(file);
	struct fusex_conn *fc;
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	if (!fud)
		return EPOLLERR;
	fc = fud->fc;
	poll_wait(file, &fc->waitq, wait);

	spin_lock(&fc->lock);
	if (!fc->connected || fud->disconnected)
		mask = EPOLLERR;
	else if (fusex_work_pending(fc))
		mask |= EPOLLIN | EPOLLRDNORM;
	spin_unlock(&fc->lock);
	return mask;
}

static int fusex_dev_open(struct inode *inode, struct file *file)
{
	/* Bound to a connection by mount (fd=) or by FUSE_DEV_IOC_CLONE. */
	file->private_data = NULL;
	return nonseekable_open(inode, file);
}

/*
 * Bind @file to @fc (mount, clone).  With @src (clone), only while @src
 * still serves @fc; never to a detached connection, which only
 * FUSEX_DEV_IOC_ATTACH may give a server.
 */
static int __fusex_dev_attach(struct file *file, struct fusex_conn *fc,
			      struct fusex_dev *src)
{
	struct fusex_dev *fud;
	int err = -EINVAL;

	if (file->f_op != &fusex_dev_operations)
		return -EINVAL;

	fud = kzalloc(sizeof(*fud), GFP_KERNEL);
	if (!fud)
		return -ENOMEM;

	mutex_lock(&fusex_dev_mutex);
	if (file->private_data)
		goto out_unlock;
	spin_lock(&fc->lock);
	if (!fc->connected || fc->detached || (src && src->disconnected)) {
		spin_unlock(&fc->lock);
		goto out_unlock;
	}
	fud->fc = fusex_conn_get(fc);
	list_add_tail(&fud->entry, &fc->devices);
	spin_unlock(&fc->lock);
	/* Pairs with smp_load_acquire() in fusex_get_dev(). */
	smp_store_release(&file->private_data, fud);
	fud = NULL;
	err = 0;
out_unlock:
	mutex_unlock(&fusex_dev_mutex);
	kfree(fud);
	return err;
}

/**
 * fusex_dev_attach - make @file serve @fc
 * @file: an open /dev/fusex not yet bound to a connection
 * @fc: the connection
 *
 * Return: 0, -EINVAL if @file is not ours or is already bound, -ENOMEM.
 */
int fusex_dev_attach(struct file *file, struct fusex_conn *fc)
{
	return __fusex_dev_attach(file, fc, NULL);
}

static int fusex_dev_release(struct inode *inode, struct file *file)
{
	struct fusex_dev *fud = fusex_get_dev(file);
	LIST_HEAD(to_end);
	LIST_HEAD(forgets);
	bool last, detached = false;
	struct fusex_conn *fc;

	if (!fud)
		return 0;
	fc = fud->fc;

	spin_lock(&fc->lock);
	/* A disconnected file is off the list already. */
	list_del_init(&fud->entry);
	last = !fud->disconnected && list_empty(&fc->devices);
	if (last && fc->restart_timeout && fc->connected) {
		/* A restart mount waits for the next server instead. */
		fusex_detach_locked(fc, &to_end, &forgets, true);
		last = false;
		detached = true;
	}
	spin_unlock(&fc->lock);

	if (detached) {
		fusex_free_forgets(&forgets);
		fusex_end_requests(&to_end);
		pr_info("server gone: waiting up to %u s for another to attach\n",
			fc->restart_timeout);
	}
	/* The last server fd is gone: nobody will answer, as on fuse. */
	if (last)
		fusex_abort_conn(fc);
	fusex_conn_put(fc);
	kfree(fud);
	return 0;
}

static int fusex_dev_fasync(int fd, struct file *file, int on)
{
	struct fusex_dev *fud = fusex_get_dev(file);

	if (!fud)
		return -EPERM;
	return fasync_helper(fd, file, on, &fud->fc->fasync);
}

/* FUSE_DEV_IOC_CLONE: make this file serve the connection of another. */
static long fusex_dev_ioctl_clone(struct file *file, u32 __user *argp)
{
	struct fusex_dev *fud;
	struct file *old;
	u32 oldfd;
	int err;

	if (get_user(oldfd, argp))
		return -EFAULT;
	old = fget(oldfd);
	if (!old)
		return -EINVAL;
	err = -EINVAL;
	fud = old->f_op == &fusex_dev_operations ? fusex_get_dev(old) : NULL;
	if (fud)
		err = __fusex_dev_attach(file, fud->fc, fud);
	fput(old);
	return err;
}

/* A re-INIT for @fc as a background request, not queued yet. */
static struct fusex_req *fusex_reinit_alloc(struct fusex_conn *fc)
{
	struct fusex_args *args;
	struct fusex_req *req;

	args = fusex_alloc_reinit(fc);
	if (!args)
		return NULL;
	req = fusex_request_alloc(fc, GFP_KERNEL);
	if (!req) {
		fusex_free_init(args);
		return NULL;
	}
	req->args = args;
	__set_bit(FR_BACKGROUND, &req->flags);
	__set_bit(FR_ISREPLY, &req->flags);
	__set_bit(FR_FORCE, &req->flags);
	__set_bit(FR_REINIT, &req->flags);
	fusex_fill_in_header(req);
	return req;
}

/*
 * A new server instance: the nodeids and file handles held so far are the
 * dead one's.  Queued requests that carry some go back to their callers
 * (FR_REBIND, on @to_end) to be bound again after revalidation; those a
 * dead server had read keep their FUSE_UNIQUE_RESEND mark.  Background
 * ones fail with ESTALE: readahead falls back to a synchronous read, and a
 * RELEASE of a file never reopened has nothing to release.  Called with
 * fc->lock held.
 */
static void fusex_new_epoch(struct fusex_conn *fc, struct list_head *to_end)
{
	struct fusex_req *req, *next;

	fc->epoch++;
	list_for_each_entry_safe(req, next, &fc->pending, list) {
		if (req == fc->reinit_req)
			continue;
		if (!fusex_args_bound(req->args)) {
			req->args->epoch = fc->epoch;
			continue;
		}
		if (req->in_h.unique & FUSE_UNIQUE_RESEND)
			req->args->resend_unique = req->in_h.unique;
		clear_bit(FR_PENDING, &req->flags);
		set_bit(FR_REBIND, &req->flags);
		req->out_h.error = -ESTALE;
		list_move_tail(&req->list, to_end);
	}
}

/*
 * A new server instance begins: its re-INIT @req goes first (the queue
 * takes a reference), then the new epoch bounces what the old one's ids
 * are in.  Called with fc->lock held.
 */
static void fusex_start_instance_locked(struct fusex_conn *fc,
					struct fusex_req *req,
					struct list_head *to_end)
{
	fc->reqctr += FUSEX_REQ_ID_STEP;
	req->in_h.unique = fc->reqctr;
	refcount_inc(&req->count);
	set_bit(FR_PENDING, &req->flags);
	list_add(&req->list, &fc->pending);
	fc->reinit_req = req;
	fusex_new_epoch(fc, to_end);
	fc->attached_at = ktime_get();
}

/*
 * Make @file the server of @fc: see FUSEX_DEV_IOC_ATTACH in fusex.h.  The
 * caller holds a reference on @fc and keeps its super block alive.
 */
static int fusex_attach_server(struct file *file, struct fusex_conn *fc,
			       u32 flags)
{
	struct fusex_dev *fud;
	struct fusex_req *req;
	LIST_HEAD(to_end);
	LIST_HEAD(forgets);
	bool put_work = false, queued = false, replaced = false;
	unsigned int n = 0;
	int err;

	if (file->f_cred->user_ns != fc->user_ns) {
		pr_warn_ratelimited("FUSEX_DEV_IOC_ATTACH: device opened in another user namespace\n");
		return -EINVAL;
	}
	if (!uid_eq(current_euid(), fc->user_id) &&
	    !ns_capable(fc->user_ns, CAP_SYS_ADMIN))
		return -EPERM;
	if (!fc->restart_timeout) {
		pr_warn_ratelimited("FUSEX_DEV_IOC_ATTACH: the mount has no restart_timeout\n");
		return -EINVAL;
	}

	fud = kzalloc(sizeof(*fud), GFP_KERNEL);
	if (!fud)
		return -ENOMEM;
	/* Allocated up front: it is queued under fc->lock if INIT was done. */
	req = fusex_reinit_alloc(fc);
	if (!req) {
		kfree(fud);
		return -ENOMEM;
	}

	mutex_lock(&fusex_dev_mutex);
	err = -EINVAL;
	if (file->private_data) {
		pr_warn_ratelimited("FUSEX_DEV_IOC_ATTACH: the device already serves a mount\n");
		goto out_unlock;
	}
	spin_lock(&fc->lock);
	err = -ENOTCONN;
	if (!fc->connected || fc->conn_error)
		goto out_unlock_fc;
	if (!fc->detached) {
		/* A server still starting up cannot be replaced. */
		err = -EBUSY;
		if (!(flags & FUSEX_ATTACH_REPLACE) ||
		    !READ_ONCE(fc->initialized))
			goto out_unlock_fc;
		fusex_detach_locked(fc, &to_end, &forgets, false);
		replaced = true;
	}
	fc->detached = false;
	put_work = cancel_delayed_work(&fc->restart_work);
	fud->fc = fusex_conn_get(fc);
	fud->attached_new = true;
	list_add_tail(&fud->entry, &fc->devices);
	/*
	 * A first INIT never answered is still queued (sent again): the new
	 * server gets that one.  Otherwise INIT goes again, before anything.
	 */
	if (READ_ONCE(fc->initialized)) {
		fusex_start_instance_locked(fc, req, &to_end);
		queued = true;
		/* Replacing a live server: no downtime before this. */
		if (replaced)
			fc->detached_at = fc->attached_at;
	}
	n = ++fc->attaches;
	fusex_wake_readers(fc);
	spin_unlock(&fc->lock);
	/* Pairs with smp_load_acquire() in fusex_get_dev(). */
	smp_store_release(&file->private_data, fud);
	fud = NULL;
	err = 0;
	goto out_unlock;

out_unlock_fc:
	spin_unlock(&fc->lock);
out_unlock:
	mutex_unlock(&fusex_dev_mutex);
	kfree(fud);
	fusex_free_forgets(&forgets);
	fusex_end_requests(&to_end);
	if (put_work)
		fusex_conn_put(fc);
	if (!queued)
		fusex_free_init(req->args);
	/* Ours; if queued, the queue holds its own. */
	fusex_put_request(req);
	if (!err)
		pr_info("server attached%s (attach %u)\n",
			replaced ? ", replacing the previous one" : "", n);
	return err;
}

/* FUSEX_DEV_IOC_ATTACH */
static long fusex_dev_ioctl_attach(struct file *file,
				   struct fusex_attach __user *argp)
{
	struct fusex_attach arg;
	struct fusex_conn *fc;
	struct file *mf;
	int err;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~FUSEX_ATTACH_REPLACE) || arg.reserved[0] ||
	    arg.reserved[1] || arg.reserved[2]) {
		pr_warn_ratelimited("FUSEX_DEV_IOC_ATTACH: unknown flags %#x or reserved fields set\n",
				    arg.flags);
		return -EINVAL;
	}
	/* O_PATH files too. */
	mf = fget_raw(arg.mount_fd);
	if (!mf)
		return -EBADF;
	fc = fusex_conn_of_file(mf);
	if (!fc) {
		pr_warn_ratelimited("FUSEX_DEV_IOC_ATTACH: mount_fd %d is not on a fusex mount\n",
				    arg.mount_fd);
		err = -EINVAL;
		goto out;
	}
	err = fusex_attach_server(file, fc, arg.flags);
	fusex_conn_put(fc);
out:
	fput(mf);
	return err;
}

static long fusex_dev_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	switch (cmd) {
	case FUSE_DEV_IOC_CLONE:
		return fusex_dev_ioctl_clone(file, (u32 __user *)arg);
	case FUSEX_DEV_IOC_ATTACH:
		return fusex_dev_ioctl_attach(file,
					      (struct fusex_attach __user *)arg);
	default:
		return -ENOTTY;
	}
}

const struct file_operations fusex_dev_operations = {
	.owner		= THIS_MODULE,
	.open		= fusex_dev_open,
	.read_iter	= fusex_dev_read,
	.splice_read	= fusex_dev_splice_read,
	.write_iter	= fusex_dev_write,
	.splice_write	= iter_file_splice_write,
	.poll		= fusex_dev_poll,
	.release	= fusex_dev_release,
	.fasync		= fusex_dev_fasync,
	.unlocked_ioctl	= fusex_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice fusex_miscdevice = {
	.minor = MISC_DYNAMIC_MINOR,
	.name  = FUSEX_DEVICE_NAME,
	.fops  = &fusex_dev_operations,
	.mode  = 0666,
};

int __init fusex_dev_init(void)
{
	int err;

	fusex_req_cachep = kmem_cache_create("fusex_request",
					     sizeof(struct fusex_req), 0, 0,
					     NULL);
	if (!fusex_req_cachep)
		return -ENOMEM;

	err = misc_register(&fusex_miscdevice);
	if (err)
		goto err_cache;
	return 0;

err_cache:
	kmem_cache_destroy(fusex_req_cachep);
	return err;
}

void fusex_dev_cleanup(void)
{
	misc_deregister(&fusex_miscdevice);
	kmem_cache_destroy(fusex_req_cachep);
}
