/*
 * c-journal: the C reference data owner. An application that keeps an append-only
 * journal, <cage>/journal.log, and backs it up itself (active, base + incremental),
 * through libmtpbur_owner.
 *
 * Backup data (all integers little-endian):
 *   snapshot   "CJS1" u64 length u64 fnv1a-64 of the first `length` bytes
 *   base       "CJB1" the whole journal
 *   increment  "CJI1" u64 offset, then the bytes from `offset` on: the bytes appended
 *              since the snapshot (offset = its length), or the whole journal (offset 0)
 *              when it was rewritten since (its first `length` bytes changed)
 *
 * Restore writes the base and then every increment into <cage>/journal.log.restore and
 * puts it in place atomically (fsync, rename, fsync of the cage) only on RestoreComplete,
 * so a restore broken off half way leaves the old journal.
 *
 * The application's own work: every file dropped into <cage>/inbox/ is appended to the
 * journal and removed, but only while no backup or restore runs. A second thread follows
 * the BUR mode with a mode watcher; bur_mode_changed answers MTPBUR_DEFER and that
 * thread confirms readiness once the application has stopped writing, as an owner that
 * needs time to prepare does. Each mode it acts on is logged to <cage>/modes.log.
 *
 * Started by the engine with SBE_SOCKET, SBE_SID and SBE_CAGE set; registration:
 * data-owners/owners/c-journal/backup_registration.xml.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mtpbur_owner.h"

#define HEADER 12 /* magic + u64 offset, the longest header */

struct journal {
    char cage[4096];
    MtpburOwner *owner;
    pthread_mutex_t lock; /* the journal file: held while the application writes it */
    bool paused;          /* a backup or restore runs: the application does not write */

    /* snapshot received (backup: an increment is made against it) */
    uint8_t snap_in[20];
    size_t snap_in_len;
    bool have_snapshot;
    uint64_t snap_length, snap_hash;

    /* snapshot sent */
    uint8_t snap_out[20];
    size_t snap_out_pos;
    bool snap_out_open;

    /* backup unit being sent: header, then the file from `offset` */
    int backup_fd;
    uint8_t header[HEADER];
    size_t header_len, header_pos;

    /* restore unit being received into the staged file */
    int staged_fd;
    bool increment;
    uint8_t header_in[HEADER];
    size_t header_in_len;
};

static void path_in_cage(const struct journal *j, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", j->cage, name);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Fails the current callback with errno's text: the engine logs it as this owner's
 * error. */
static int32_t fail(const char *what)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
    mtpbur_set_error_message(msg);
    return MTPBUR_ERR_GENERAL;
}

static int32_t corrupt(const char *what)
{
    mtpbur_set_error_message(what);
    return MTPBUR_ERR_CORRUPT;
}

/* Length and fnv1a-64 of the first `limit` bytes of the journal (all of it if limit is
 * UINT64_MAX). A missing journal is empty. */
static int measure(const struct journal *j, uint64_t limit, uint64_t *length, uint64_t *hash)
{
    char path[4200];
    path_in_cage(j, "journal.log", path, sizeof path);
    *length = 0;
    *hash = 0xcbf29ce484222325ULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    uint8_t buf[65536];
    for (;;) {
        size_t want = sizeof buf;
        if (limit - *length < want)
            want = (size_t)(limit - *length);
        if (want == 0)
            break;
        ssize_t n = read(fd, buf, want);
        if (n < 0) {
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            *hash ^= buf[i];
            *hash *= 0x100000001b3ULL;
        }
        *length += (uint64_t)n;
    }
    close(fd);
    return 0;
}

static void forget_operation(struct journal *j)
{
    if (j->backup_fd >= 0)
        close(j->backup_fd);
    j->backup_fd = -1;
    if (j->staged_fd >= 0) {
        char staged[4200];
        close(j->staged_fd);
        path_in_cage(j, "journal.log.restore", staged, sizeof staged);
        unlink(staged);
    }
    j->staged_fd = -1;
    j->snap_in_len = 0;
    j->have_snapshot = false;
    j->snap_out_open = false;
}

/* ---- MActiveBackupDataClient ---- */

static int32_t bur_mode_changed(void *ctx, const MtpburModeInfo *mode)
{
    struct journal *j = ctx;
    /* A new operation, or the end of one: nothing staged survives it. */
    forget_operation(j);
    /* The watcher thread confirms once the application has stopped writing. */
    return mode->bur_running ? MTPBUR_DEFER : MTPBUR_READY;
}

static int32_t receive_snapshot_data(void *ctx, char drive, const uint8_t *data, size_t len,
                                     bool last)
{
    struct journal *j = ctx;
    (void)drive;
    if (j->snap_in_len + len > sizeof j->snap_in)
        return corrupt("snapshot longer than 20 bytes");
    memcpy(j->snap_in + j->snap_in_len, data, len);
    j->snap_in_len += len;
    if (!last)
        return 0;
    if (j->snap_in_len != sizeof j->snap_in || memcmp(j->snap_in, "CJS1", 4) != 0)
        return corrupt("not a c-journal snapshot");
    j->snap_length = get_u64(j->snap_in + 4);
    j->snap_hash = get_u64(j->snap_in + 12);
    j->have_snapshot = true;
    return 0;
}

static int32_t get_expected_data_size(void *ctx, char drive, uint64_t *size)
{
    struct journal *j = ctx;
    uint64_t hash;
    (void)drive;
    if (measure(j, UINT64_MAX, size, &hash) < 0)
        return fail("journal.log");
    *size += HEADER;
    return 0;
}

static int32_t get_snapshot_data(void *ctx, char drive, uint8_t *buf, size_t max_len,
                                 size_t *len, bool *last)
{
    struct journal *j = ctx;
    (void)drive;
    if (!j->snap_out_open) {
        uint64_t length, hash;
        if (measure(j, UINT64_MAX, &length, &hash) < 0)
            return fail("journal.log");
        memcpy(j->snap_out, "CJS1", 4);
        put_u64(j->snap_out + 4, length);
        put_u64(j->snap_out + 12, hash);
        j->snap_out_pos = 0;
        j->snap_out_open = true;
    }
    size_t n = sizeof j->snap_out - j->snap_out_pos;
    if (n > max_len)
        n = max_len;
    memcpy(buf, j->snap_out + j->snap_out_pos, n);
    j->snap_out_pos += n;
    *len = n;
    *last = j->snap_out_pos == sizeof j->snap_out;
    if (*last)
        j->snap_out_open = false;
    return 0;
}

static int32_t initialise_get_backup_data(void *ctx, char drive)
{
    struct journal *j = ctx;
    char path[4200];
    uint64_t offset = 0;
    (void)drive;
    if (j->have_snapshot) {
        /* An increment: the appended bytes if the journal still starts with what the
         * snapshot saw, else all of it. */
        uint64_t length, hash;
        if (measure(j, j->snap_length, &length, &hash) < 0)
            return fail("journal.log");
        if (length == j->snap_length && hash == j->snap_hash)
            offset = length;
        memcpy(j->header, "CJI1", 4);
        put_u64(j->header + 4, offset);
        j->header_len = HEADER;
    } else {
        memcpy(j->header, "CJB1", 4);
        j->header_len = 4;
    }
    j->header_pos = 0;
    if (j->backup_fd >= 0)
        close(j->backup_fd);
    path_in_cage(j, "journal.log", path, sizeof path);
    j->backup_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (j->backup_fd < 0 && errno != ENOENT)
        return fail("journal.log");
    if (j->backup_fd >= 0 && lseek(j->backup_fd, (off_t)offset, SEEK_SET) < 0)
        return fail("journal.log");
    return 0;
}

static int32_t get_backup_data_section(void *ctx, uint8_t *buf, size_t max_len, size_t *len,
                                       bool *last)
{
    struct journal *j = ctx;
    size_t n = 0;
    while (n < max_len && j->header_pos < j->header_len)
        buf[n++] = j->header[j->header_pos++];
    *last = false;
    if (j->backup_fd < 0) {
        *last = j->header_pos == j->header_len;
    } else {
        while (n < max_len) {
            ssize_t r = read(j->backup_fd, buf + n, max_len - n);
            if (r < 0)
                return fail("journal.log");
            if (r == 0) {
                *last = true;
                break;
            }
            n += (size_t)r;
        }
        if (*last) {
            close(j->backup_fd);
            j->backup_fd = -1;
        }
    }
    *len = n;
    return 0;
}

static int32_t open_staged(struct journal *j, bool increment)
{
    char staged[4200];
    path_in_cage(j, "journal.log.restore", staged, sizeof staged);
    if (!increment) {
        if (j->staged_fd >= 0)
            close(j->staged_fd);
        j->staged_fd = open(staged, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (j->staged_fd < 0)
            return fail("journal.log.restore");
    } else if (j->staged_fd < 0) {
        mtpbur_set_error_message("an increment without its base");
        return MTPBUR_ERR_NOT_READY;
    }
    j->increment = increment;
    j->header_in_len = 0;
    return 0;
}

static int32_t initialise_restore_base_data(void *ctx, char drive)
{
    (void)drive;
    return open_staged(ctx, false);
}

static int32_t initialise_restore_increment_data(void *ctx, char drive)
{
    (void)drive;
    return open_staged(ctx, true);
}

static int32_t write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail("journal.log.restore");
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The header may arrive split over sections: collect it, then act on it once. */
static int32_t restore_section(struct journal *j, const uint8_t *data, size_t len, bool last)
{
    size_t need = j->increment ? HEADER : 4;
    if (j->staged_fd < 0) {
        mtpbur_set_error_message("no restore in progress");
        return MTPBUR_ERR_NOT_READY;
    }
    while (len > 0 && j->header_in_len < need) {
        j->header_in[j->header_in_len++] = *data++;
        len--;
        if (j->header_in_len < need)
            continue;
        if (memcmp(j->header_in, j->increment ? "CJI1" : "CJB1", 4) != 0)
            return corrupt(j->increment ? "not a c-journal increment" : "not a c-journal base");
        if (j->increment) {
            uint64_t offset = get_u64(j->header_in + 4);
            struct stat st;
            if (fstat(j->staged_fd, &st) < 0)
                return fail("journal.log.restore");
            if (offset > (uint64_t)st.st_size)
                return corrupt("increment starts past the end of the journal");
            if (ftruncate(j->staged_fd, (off_t)offset) < 0 ||
                lseek(j->staged_fd, (off_t)offset, SEEK_SET) < 0)
                return fail("journal.log.restore");
        }
    }
    if (last && j->header_in_len < need)
        return corrupt("unit shorter than its header");
    return write_all(j->staged_fd, data, len);
}

static int32_t restore_base_data_section(void *ctx, const uint8_t *data, size_t len, bool last)
{
    return restore_section(ctx, data, len, last);
}

static int32_t restore_increment_data_section(void *ctx, const uint8_t *data, size_t len,
                                              bool last)
{
    return restore_section(ctx, data, len, last);
}

static int32_t restore_complete(void *ctx, char drive)
{
    struct journal *j = ctx;
    char staged[4200], path[4200];
    (void)drive;
    if (j->staged_fd < 0)
        return 0; /* nothing of ours was in the set */
    path_in_cage(j, "journal.log.restore", staged, sizeof staged);
    path_in_cage(j, "journal.log", path, sizeof path);
    if (fsync(j->staged_fd) < 0)
        return fail("journal.log.restore");
    close(j->staged_fd);
    j->staged_fd = -1;
    if (rename(staged, path) < 0)
        return fail("journal.log");
    int dir = open(j->cage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        fsync(dir);
        close(dir);
    }
    return 0;
}

static void terminate_multi_stage_operation(void *ctx)
{
    forget_operation(ctx);
}

static uint64_t get_data_checksum(void *ctx, char drive)
{
    uint64_t length, hash;
    (void)drive;
    return measure(ctx, UINT64_MAX, &length, &hash) < 0 ? 0 : hash;
}

/* ---- the application ---- */

/* Appends every file in <cage>/inbox/ to the journal and removes it. */
static void take_inbox(struct journal *j)
{
    char inbox[4200], path[4200], file[8400];
    path_in_cage(j, "inbox", inbox, sizeof inbox);
    path_in_cage(j, "journal.log", path, sizeof path);
    DIR *d = opendir(inbox);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(file, sizeof file, "%s/%s", inbox, e->d_name);
        pthread_mutex_lock(&j->lock);
        if (!j->paused) {
            int in = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            int out = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
            uint8_t buf[65536];
            ssize_t n;
            bool ok = in >= 0 && out >= 0;
            while (ok && (n = read(in, buf, sizeof buf)) > 0)
                ok = write_all(out, buf, (size_t)n) == 0;
            if (ok && fsync(out) == 0)
                unlink(file);
            if (in >= 0)
                close(in);
            if (out >= 0)
                close(out);
        }
        pthread_mutex_unlock(&j->lock);
    }
    closedir(d);
}

static void log_mode(struct journal *j, const MtpburModeInfo *m)
{
    char path[4200];
    path_in_cage(j, "modes.log", path, sizeof path);
    FILE *f = fopen(path, "ae");
    if (f) {
        fprintf(f, "part=%u inc=%u drives=%s affects_me=%d\n", m->part_type, m->inc_type,
                m->drives, m->affects_me);
        fclose(f);
    }
}

/* Follows the mode: pauses the application's writes while a backup or restore runs and
 * confirms readiness once they have stopped; between operations, takes the inbox. */
static void *watch_modes(void *arg)
{
    struct journal *j = arg;
    MtpburModeWatcher *w = mtpbur_mode_watcher_new(j->owner);
    MtpburModeInfo mode;
    bool running = false;
    if (!w) {
        fprintf(stderr, "c-journal: %s\n", mtpbur_last_error());
        return NULL;
    }
    for (;;) {
        int r = mtpbur_mode_watcher_next(w, &mode, 200);
        if (r < 0)
            break; /* the connection ended */
        if (r == 0) {
            if (!running)
                take_inbox(j);
            continue;
        }
        log_mode(j, &mode);
        pthread_mutex_lock(&j->lock); /* waits for a write in progress to finish */
        j->paused = mode.bur_running;
        pthread_mutex_unlock(&j->lock);
        running = mode.bur_running;
        if (running)
            mtpbur_owner_confirm_ready(j->owner, 0);
    }
    mtpbur_mode_watcher_free(w);
    return NULL;
}

int main(void)
{
    static struct journal j = {.backup_fd = -1, .staged_fd = -1, .paused = true};
    const char *cage = getenv("SBE_CAGE");
    if (!cage) {
        fprintf(stderr, "c-journal: SBE_CAGE is not set (the engine starts this owner)\n");
        return 2;
    }
    snprintf(j.cage, sizeof j.cage, "%s", cage);
    pthread_mutex_init(&j.lock, NULL);

    j.owner = mtpbur_owner_connect_env();
    if (!j.owner) {
        fprintf(stderr, "c-journal: %s\n", mtpbur_last_error());
        return 1;
    }
    pthread_t watcher;
    if (pthread_create(&watcher, NULL, watch_modes, &j) != 0) {
        fprintf(stderr, "c-journal: cannot start the mode watcher\n");
        return 1;
    }

    MtpburCallbacks callbacks = {
        .ctx = &j,
        .bur_mode_changed = bur_mode_changed,
        .receive_snapshot_data = receive_snapshot_data,
        .get_expected_data_size = get_expected_data_size,
        .get_snapshot_data = get_snapshot_data,
        .initialise_get_backup_data = initialise_get_backup_data,
        .get_backup_data_section = get_backup_data_section,
        .initialise_restore_base_data = initialise_restore_base_data,
        .restore_base_data_section = restore_base_data_section,
        .initialise_restore_increment_data = initialise_restore_increment_data,
        .restore_increment_data_section = restore_increment_data_section,
        .restore_complete = restore_complete,
        .terminate_multi_stage_operation = terminate_multi_stage_operation,
        .get_data_checksum = get_data_checksum,
    };
    int rc = mtpbur_owner_run(j.owner, &callbacks);
    if (rc != 0)
        fprintf(stderr, "c-journal: %s\n", mtpbur_last_error());
    pthread_join(watcher, NULL);
    mtpbur_owner_free(j.owner);
    return rc == 0 ? 0 : 1;
}
