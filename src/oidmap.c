#include "config.h"
#include "oidmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "banned.h"

static uint64_t hash(const char *k)
{
	/* FNV-1a: object ids are already uniform, names are short */
	uint64_t h = 1469598103934665603ULL;

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	return h;
}

static struct gate_oidmap_slot *find(const struct gate_oidmap *m, const char *key)
{
	size_t i = (size_t)hash(key) & (m->alloc - 1);

	while (m->slots[i].key && strcmp(m->slots[i].key, key))
		i = (i + 1) & (m->alloc - 1);
	return &m->slots[i];
}

void *gate_oidmap_get(const struct gate_oidmap *m, const char *key)
{
	if (!m->alloc)
		return NULL;
	return find(m, key)->value;
}

static void grow(struct gate_oidmap *m)
{
	struct gate_oidmap old = *m;
	size_t i;

	m->alloc = old.alloc ? old.alloc * 2 : 64;
	m->slots = gate_xcalloc(m->alloc, sizeof(*m->slots));
	for (i = 0; i < old.alloc; i++) {
		if (old.slots[i].key) {
			struct gate_oidmap_slot *s = find(m, old.slots[i].key);
			*s = old.slots[i];
		}
	}
	free(old.slots);
}

void *gate_oidmap_put(struct gate_oidmap *m, const char *key, void *value)
{
	struct gate_oidmap_slot *s;
	void *prev;

	if ((m->nr + 1) * 4 >= m->alloc * 3)
		grow(m);
	s = find(m, key);
	if (!s->key) {
		s->key = m->borrowed ? (char *)key : gate_xstrdup(key);
		s->value = value;
		m->nr++;
		return NULL;
	}
	prev = s->value;
	s->value = value;
	return prev;
}

void gate_oidmap_release(struct gate_oidmap *m)
{
	size_t i;

	for (i = 0; i < m->alloc && !m->borrowed; i++)
		free(m->slots[i].key);
	free(m->slots);
	m->slots = NULL;
	m->nr = m->alloc = 0;
}
