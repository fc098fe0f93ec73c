/*
 * Runs a fuzz target over files, without libFuzzer: make test replays the
 * committed corpora (and every crash kept as a regression) this way, under
 * ASan and UBSan, with gcc alone.
 *
 *   replay FILE_OR_DIR...
 */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_path(const char *path);


static int
replay_file(const char *path)
{
    FILE     *f;
    long      n;
    uint8_t  *buf;

    f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    /* an exact-size copy: reading past it is what ASan must catch */
    buf = malloc(n > 0 ? n : 1);
    if (buf == NULL || (n > 0 && fread(buf, 1, n, f) != (size_t) n)) {
        fclose(f);
        free(buf);
        return -1;
    }

    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);

    return 1;
}


static int
replay_dir(const char *path)
{
    int             n, k;
    char            full[4096];
    DIR            *dir;
    struct dirent  *e;

    dir = opendir(path);
    if (dir == NULL) {
        perror(path);
        return -1;
    }

    n = 0;

    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }

        snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
        k = replay_path(full);
        if (k < 0) {
            closedir(dir);
            return -1;
        }

        n += k;
    }

    closedir(dir);

    return n;
}


static int
replay_path(const char *path)
{
    struct stat  st;

    if (stat(path, &st) != 0) {
        perror(path);
        return -1;
    }

    return S_ISDIR(st.st_mode) ? replay_dir(path) : replay_file(path);
}


int
main(int argc, char **argv)
{
    int  i, n, k;

    n = 0;

    for (i = 1; i < argc; i++) {
        k = replay_path(argv[i]);
        if (k < 0) {
            return 1;
        }

        n += k;
    }

    printf("%s: %d inputs replayed\n", argv[0], n);

    return 0;
}
