/* One job at a time on a thread of its own; see writer.h. */
#include "writer.h"
#include "sh_err.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct pst_writer {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* a job was posted, a job finished, or stop */
    pst_job_fn fn;
    void *arg;
    bool posted;                /* a job is waiting for the thread or running */
    bool finished;              /* it has returned; not yet collected */
    bool busy;                  /* submitted and not collected (the caller's view) */
    bool stop;
};

static void *run(void *p)
{
    struct pst_writer *w = p;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->posted && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->posted)
            break;                      /* stop, and nothing left to run */
        pst_job_fn fn = w->fn;
        void *arg = w->arg;
        pthread_mutex_unlock(&w->mu);
        fn(arg);
        pthread_mutex_lock(&w->mu);
        w->posted = false;
        w->finished = true;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct pst_writer *pst_writer_create(void)
{
    struct pst_writer *w = calloc(1, sizeof(*w));
    pthread_condattr_t ca;

    if (!w)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->th, NULL, run, w)) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

void pst_writer_destroy(struct pst_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int pst_writer_submit(struct pst_writer *w, pst_job_fn fn, void *arg)
{
    if (w->busy)
        return SH_EINVAL;
    pthread_mutex_lock(&w->mu);
    w->fn = fn;
    w->arg = arg;
    w->posted = true;
    w->finished = false;
    w->busy = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return SH_OK;
}

bool pst_writer_busy(const struct pst_writer *w)
{
    return w->busy;
}

bool pst_writer_done(struct pst_writer *w)
{
    bool done;

    if (!w->busy)
        return false;
    pthread_mutex_lock(&w->mu);
    done = w->finished;
    pthread_mutex_unlock(&w->mu);
    return done;
}

int pst_writer_wait(struct pst_writer *w, int timeout_ms)
{
    struct timespec until;
    int rc = SH_OK;

    if (!w->busy)
        return SH_EINVAL;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&w->mu);
    while (!w->finished && rc == SH_OK) {
        if (timeout_ms < 0)
            pthread_cond_wait(&w->cv, &w->mu);
        else if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT && !w->finished)
            rc = SH_ETIMEDOUT;
    }
    if (rc == SH_OK) {
        w->finished = false;
        w->busy = false;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}
