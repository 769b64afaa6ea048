//! The online template miner: one pass, bounded work per line, stable key ids.
//!
//! Drain-class (He et al., ICWS'17) with three changes that remove per-dataset tuning:
//!
//! 1. Values are masked by shape before mining (see [`super::token`]), so the tree needs no
//!    per-dataset regexes.
//! 2. Similarity counts only the template's literal positions (`equal literals / literals`), so a
//!    template that has become mostly `<*>` keeps attracting its lines; a line whose literals all
//!    match always joins.
//! 3. Generalising two different tokens keeps their common prefix up to a key delimiter and their
//!    common suffix from a closing delimiter (`user=alice`, `user=bob` → `user=<*>`;
//!    `(pid 12)`-style wrappers stay), so templates keep the printf shape.
//!
//! Candidates are found by (token count, first token) as in Drain, plus the bucket of templates
//! whose first token is a variable. An exact-signature cache answers repeated shapes without
//! comparing tokens at all; it is bounded and cleared when full.
//!
//! Ids are never reused: when `max_templates` is reached, the least recently seen template is
//! evicted and its id retired; a later line of that shape gets a new id.

use super::token::{Tokens, WILDCARD, hash_token, tokenize};
use rustc_hash::FxHashMap;

/// A stable integer id for a template. Ids start at 1; 0 is never assigned (the model uses it for
/// "unknown key").
pub type KeyId = u32;

/// Miner settings. The defaults are the product's defaults, used for every system.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinerConfig {
    /// A line joins the most similar template when at least this share of the template's literal
    /// tokens equal the line's.
    pub similarity: f64,
    /// The most templates kept; beyond it the least recently seen is evicted.
    pub max_templates: usize,
    /// The most exact shapes remembered by the fast path.
    pub max_cache: usize,
    /// A position where lines differ only by words (`Failed password` / `Failed none`) becomes
    /// `<*>` once this many distinct words were seen there; until then each word keeps its own
    /// key. Printf variables with letters only (user names) reach it quickly, constant variants
    /// (`startup`/`shutdown`) rarely do.
    pub generalize_after: usize,
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self {
            similarity: 0.5,
            max_templates: 20_000,
            max_cache: 1 << 20,
            generalize_after: 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A constant token.
    Literal,
    /// Exactly `<*>`.
    Wild,
    /// A token with `<*>` and constant text around it (`uid=<*>`).
    Partial,
}

/// Where `<*>` first occurs in `s`: a plain byte loop (`str::find` and `str::contains` set up a
/// two-way searcher per call, and even memchr's dispatch costs more than the search on these
/// short tokens).
pub(crate) fn wildcard_at(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(i) = b[from..].iter().position(|&c| c == b'<') {
        let at = from + i;
        if b[at..].starts_with(WILDCARD.as_bytes()) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Whether `s` holds `<*>`.
pub(crate) fn has_wildcard(s: &str) -> bool {
    wildcard_at(s).is_some()
}

fn kind_of(tok: &str) -> Kind {
    if tok == WILDCARD {
        Kind::Wild
    } else if has_wildcard(tok) {
        Kind::Partial
    } else {
        Kind::Literal
    }
}

/// One template and its statistics.
#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    pub(crate) id: KeyId,
    pub(crate) tokens: Vec<Box<str>>,
    hashes: Vec<u64>,
    kinds: Vec<Kind>,
    pub(crate) count: u64,
    last_seen: u64,
    /// The id of the first template of its family (templates that differ only by words).
    pub(crate) family: KeyId,
}

/// Templates that differ from each other only by words, and the words seen at each position.
#[derive(Debug, Clone, Default)]
struct Family {
    members: Vec<KeyId>,
    seen: Vec<(u32, Vec<u64>)>,
}

impl Cluster {
    pub(crate) fn new(id: KeyId, tokens: Vec<Box<str>>, count: u64) -> Self {
        let hashes = tokens.iter().map(|t| hash_token(t)).collect();
        let kinds = tokens.iter().map(|t| kind_of(t)).collect();
        Self {
            id,
            tokens,
            hashes,
            kinds,
            count,
            last_seen: 0,
            family: id,
        }
    }

    fn bucket_key(&self) -> BucketKey {
        bucket_key(
            self.tokens.len(),
            self.tokens.first().map(|t| (&**t, self.hashes[0])),
        )
    }

    /// The index of templates by their second token: a line whose first token is a value the
    /// masks cannot recognise (`alice : TTY=…`, `(bob) CMD (…)`) still finds its template.
    fn second_key(&self) -> Option<BucketKey> {
        (self.tokens.len() >= 2)
            .then(|| bucket_key(self.tokens.len(), Some((&*self.tokens[1], self.hashes[1]))))
    }

    /// The template as text: tokens joined by one space.
    pub(crate) fn template(&self) -> String {
        self.tokens.join(" ")
    }
}

type BucketKey = (u32, u64);
const VAR_BUCKET: u64 = 0;

fn bucket_key(len: usize, first: Option<(&str, u64)>) -> BucketKey {
    let first = match first {
        Some((tok, hash)) if kind_of(tok) == Kind::Literal => hash | 1,
        _ => VAR_BUCKET,
    };
    (len as u32, first)
}

/// The online template miner.
#[derive(Debug, Clone)]
pub struct Miner {
    cfg: MinerConfig,
    slots: Vec<Option<Cluster>>,
    free: Vec<u32>,
    by_id: FxHashMap<KeyId, u32>,
    buckets: FxHashMap<BucketKey, Vec<u32>>,
    /// Templates by (length, second token), for lines whose first token varies.
    seconds: FxHashMap<BucketKey, Vec<u32>>,
    cache: FxHashMap<u64, (u32, KeyId)>,
    families: FxHashMap<KeyId, Family>,
    aliases: FxHashMap<KeyId, KeyId>,
    next_id: KeyId,
    clock: u64,
    evicted: u64,
    scratch: Tokens,
}

impl Default for Miner {
    fn default() -> Self {
        Self::new(MinerConfig::default())
    }
}

impl Miner {
    /// An empty miner.
    pub fn new(cfg: MinerConfig) -> Self {
        Self {
            cfg,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: FxHashMap::default(),
            buckets: FxHashMap::default(),
            seconds: FxHashMap::default(),
            cache: FxHashMap::default(),
            families: FxHashMap::default(),
            aliases: FxHashMap::default(),
            next_id: 1,
            clock: 0,
            evicted: 0,
            scratch: Tokens::default(),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &MinerConfig {
        &self.cfg
    }

    /// Assigns `msg` a key, creating or generalising a template as needed.
    pub fn mine(&mut self, msg: &str) -> KeyId {
        let mut toks = std::mem::take(&mut self.scratch);
        tokenize(msg, &mut toks);
        let id = self.mine_tokens(&toks);
        self.scratch = toks;
        id
    }

    /// The tokens of the message last given to [`Self::mine`].
    pub fn last_tokens(&self) -> &Tokens {
        &self.scratch
    }

    /// Assigns already tokenised `toks` a key.
    pub fn mine_tokens(&mut self, toks: &Tokens) -> KeyId {
        let sig = toks.signature();
        if let Some(id) = self.mine_known_shape(sig) {
            return id;
        }
        self.clock += 1;
        let slot = match self.best_match(toks) {
            Some(slot) => self.join(slot, toks),
            None => self.create(toks, None),
        };
        let c = self.slots[slot as usize]
            .as_mut()
            .expect("slot chosen above is live");
        c.count += 1;
        c.last_seen = self.clock;
        let id = c.id;
        if self.cache.len() >= self.cfg.max_cache {
            self.cache.clear();
        }
        self.cache.insert(sig, (slot, id));
        id
    }

    /// Counts a line whose token sequence has signature `sig` ([`Tokens::signature`]) and returns
    /// its key, when that exact shape was seen before; `None` means the line must be mined whole
    /// ([`Miner::mine`]). This is all the sequential work a line of a known shape needs.
    pub fn mine_known_shape(&mut self, sig: u64) -> Option<KeyId> {
        let &(slot, id) = self.cache.get(&sig)?;
        let c = self.slots.get_mut(slot as usize)?.as_mut()?;
        if c.id != id {
            return None;
        }
        self.clock += 1;
        c.count += 1;
        c.last_seen = self.clock;
        Some(id)
    }

    /// Finds the key `msg` would get without changing anything: the template whose pattern
    /// matches it exactly (literals equal, variables anywhere), if any.
    pub fn lookup(&self, msg: &str) -> Option<KeyId> {
        let mut toks = Tokens::default();
        tokenize(msg, &mut toks);
        if let Some(&(slot, id)) = self.cache.get(&toks.signature())
            && self.cluster_at(slot).is_some_and(|c| c.id == id)
        {
            return Some(id);
        }
        let slot = self.best_match(&toks)?;
        let c = self.cluster_at(slot)?;
        (similarity(c, &toks).0 >= 1.0).then_some(c.id)
    }

    fn cluster_at(&self, slot: u32) -> Option<&Cluster> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn candidates<'a>(&'a self, toks: &Tokens) -> impl Iterator<Item = u32> + 'a {
        let own = bucket_key(
            toks.len(),
            (!toks.is_empty()).then(|| (toks.get(0), toks.hash(0))),
        );
        let var = (own.0, VAR_BUCKET);
        let first = self.buckets.get(&own).into_iter().flatten();
        let second = (own != var)
            .then(|| self.buckets.get(&var))
            .flatten()
            .into_iter()
            .flatten();
        first.chain(second).copied()
    }

    /// The most similar template; between equally similar ones, the one with more constants in
    /// common with the line (the most specific).
    fn best_match(&self, toks: &Tokens) -> Option<u32> {
        let mut best: Option<(f64, u32, u32)> = None;
        for slot in self.candidates(toks) {
            let Some(c) = self.cluster_at(slot) else {
                continue;
            };
            let (sim, equal) = similarity(c, toks);
            if best.is_none_or(|(s, e, _)| sim > s || (sim == s && equal > e)) {
                best = Some((sim, equal, slot));
            }
        }
        best.filter(|(sim, _, _)| *sim >= self.cfg.similarity)
            .map(|(_, _, slot)| slot)
            .or_else(|| self.first_word_match(toks))
    }

    /// A template in another first-token bucket that the line matches everywhere but in its
    /// first token, when that token is written as a subject in front (`alice : TTY=…`,
    /// `(bob) CMD (…)`): a name followed by a lone punctuation token, or a bracketed word. The
    /// first tokens must differ by letters only, the rest must match exactly, and the family
    /// rule then decides when the first position becomes a variable. Anything looser would
    /// merge events named by their first word (`boot (command 3)`, `halt (command 3)`).
    fn first_word_match(&self, toks: &Tokens) -> Option<u32> {
        if toks.len() < 2 {
            return None;
        }
        let first = toks.get(0).as_bytes();
        let bracketed = first.len() > 2
            && matches!(
                (first[0], first[first.len() - 1]),
                (b'(', b')') | (b'[', b']')
            );
        let second = toks.get(1);
        let subject = !has_wildcard(second) && second.bytes().all(|b| b.is_ascii_punctuation());
        if !bracketed && !subject {
            return None;
        }
        let key = bucket_key(toks.len(), Some((toks.get(1), toks.hash(1))));
        self.seconds.get(&key)?.iter().copied().find(|&slot| {
            self.cluster_at(slot).is_some_and(|c| {
                // Something constant besides the name, or every line of that length would do.
                c.kinds[1..].contains(&Kind::Literal)
                    && (c.kinds[0] == Kind::Wild
                        || (c.kinds[0] == Kind::Partial
                            && partial_match(&c.tokens[0], toks.get(0)))
                        || name_variation(&c.tokens[0], toks.get(0)))
                    && (1..c.tokens.len()).all(|i| {
                        c.kinds[i] == Kind::Wild
                            || c.hashes[i] == toks.hash(i)
                            || (c.kinds[i] == Kind::Partial
                                && partial_match(&c.tokens[i], toks.get(i)))
                    })
            })
        })
    }

    /// Puts a line into the template at `slot`, or into a new template of the same family while
    /// the words where they differ have not been seen varying enough.
    fn join(&mut self, slot: u32, toks: &Tokens) -> u32 {
        let c = self.slots[slot as usize].as_ref().expect("live slot");
        let words: Vec<usize> = (0..c.tokens.len())
            .filter(|&i| {
                c.kinds[i] != Kind::Wild
                    && c.hashes[i] != toks.hash(i)
                    && word_variation(&c.tokens[i], toks.get(i))
                    && !(c.kinds[i] == Kind::Partial && partial_match(&c.tokens[i], toks.get(i)))
            })
            .collect();
        if !words.is_empty() {
            let need = self.cfg.generalize_after;
            let family = self.families.entry(c.family).or_default();
            let mut enough = true;
            for &p in &words {
                let seen = match family.seen.iter_mut().find(|(q, _)| *q as usize == p) {
                    Some((_, v)) => v,
                    None => {
                        family.seen.push((p as u32, Vec::new()));
                        &mut family.seen.last_mut().expect("just pushed").1
                    }
                };
                for h in [c.hashes[p], toks.hash(p)] {
                    if seen.len() < need && !seen.contains(&h) {
                        seen.push(h);
                    }
                }
                enough &= seen.len() >= need;
            }
            if !enough {
                let fam = c.family;
                return self.create(toks, Some(fam));
            }
        }
        self.merge(slot, toks);
        self.absorb_family(slot);
        slot
    }

    /// Retires the other members of the template's family that its template now covers.
    fn absorb_family(&mut self, slot: u32) {
        let c = self.slots[slot as usize].as_ref().expect("live slot");
        let (id, fam) = (c.id, c.family);
        let Some(family) = self.families.get(&fam) else {
            return;
        };
        let covered: Vec<(KeyId, u32)> = family
            .members
            .iter()
            .filter(|&&m| m != id)
            .filter_map(|m| self.by_id.get(m).map(|s| (*m, *s)))
            .filter(|(_, s)| self.cluster_at(*s).is_some_and(|m| covers(c, m)))
            .collect();
        for (m, s) in covered {
            let gone = self.remove(s);
            self.aliases.insert(m, id);
            if let Some(c) = self.slots[slot as usize].as_mut() {
                c.count += gone.count;
                c.last_seen = c.last_seen.max(gone.last_seen);
            }
        }
        // Aliases whose template was evicted since lead nowhere: drop them when they pile up, so
        // that the map stays bounded by the template cap.
        if self.aliases.len() > 4 * self.cfg.max_templates.max(1) {
            let dead: Vec<KeyId> = self
                .aliases
                .keys()
                .copied()
                .filter(|a| !self.by_id.contains_key(&self.canonical(*a)))
                .collect();
            for a in dead {
                self.aliases.remove(&a);
            }
        }
    }

    fn merge(&mut self, slot: u32, toks: &Tokens) {
        let c = self.slots[slot as usize].as_mut().expect("live slot");
        let old_key = c.bucket_key();
        let old_second = c.second_key();
        for i in 0..c.tokens.len() {
            if c.hashes[i] == toks.hash(i) || c.kinds[i] == Kind::Wild {
                continue;
            }
            if c.kinds[i] == Kind::Partial && partial_match(&c.tokens[i], toks.get(i)) {
                continue;
            }
            let g = generalize(&c.tokens[i], toks.get(i));
            c.hashes[i] = hash_token(&g);
            c.kinds[i] = kind_of(&g);
            c.tokens[i] = g.into_boxed_str();
        }
        let new_key = c.bucket_key();
        let new_second = c.second_key();
        if new_key != old_key {
            if let Some(v) = self.buckets.get_mut(&old_key) {
                v.retain(|s| *s != slot);
            }
            self.buckets.entry(new_key).or_default().push(slot);
        }
        if new_second != old_second {
            if let Some(v) = old_second.and_then(|k| self.seconds.get_mut(&k)) {
                v.retain(|s| *s != slot);
            }
            if let Some(k) = new_second {
                self.seconds.entry(k).or_default().push(slot);
            }
        }
    }

    fn create(&mut self, toks: &Tokens, family: Option<KeyId>) -> u32 {
        if self.by_id.len() >= self.cfg.max_templates.max(1) {
            self.evict_lru();
        }
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        let tokens = toks.iter().map(Box::from).collect();
        let mut c = Cluster::new(id, tokens, 0);
        if let Some(fam) = family {
            c.family = fam;
        }
        self.insert(c)
    }

    /// Places a cluster in a slot and indexes it.
    pub(crate) fn insert(&mut self, c: Cluster) -> u32 {
        let key = c.bucket_key();
        let id = c.id;
        self.next_id = self.next_id.max(id.saturating_add(1));
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(c);
                s
            }
            None => {
                self.slots.push(Some(c));
                (self.slots.len() - 1) as u32
            }
        };
        let fam = self.slots[slot as usize].as_ref().map_or(id, |c| c.family);
        if fam != id {
            let root_live = self.by_id.contains_key(&fam);
            let f = self.families.entry(fam).or_default();
            if f.members.is_empty() && root_live {
                f.members.push(fam);
            }
            f.members.push(id);
        }
        self.by_id.insert(id, slot);
        self.buckets.entry(key).or_default().push(slot);
        if let Some(k) = self.slots[slot as usize]
            .as_ref()
            .and_then(Cluster::second_key)
        {
            self.seconds.entry(k).or_default().push(slot);
        }
        slot
    }

    fn evict_lru(&mut self) {
        let victim = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (c.last_seen, c.count, i)))
            .min();
        let Some((_, _, slot)) = victim else { return };
        self.remove(slot as u32);
        self.evicted += 1;
    }

    /// Takes a template out of every index and frees its slot.
    fn remove(&mut self, slot: u32) -> Cluster {
        let c = self.slots[slot as usize]
            .take()
            .expect("removed slot is live");
        self.by_id.remove(&c.id);
        if let Some(v) = self.buckets.get_mut(&c.bucket_key()) {
            v.retain(|s| *s != slot);
        }
        if let Some(v) = c.second_key().and_then(|k| self.seconds.get_mut(&k)) {
            v.retain(|s| *s != slot);
        }
        if let Some(f) = self.families.get_mut(&c.family) {
            f.members.retain(|m| *m != c.id);
            if f.members.len() <= 1 {
                self.families.remove(&c.family);
            }
        }
        self.free.push(slot);
        c
    }

    /// The id that `id` now stands for: itself, or the template it was merged into.
    pub fn canonical(&self, mut id: KeyId) -> KeyId {
        // Chains are short (one step per merge); the bound guards against a corrupt vocabulary.
        for _ in 0..64 {
            match self.aliases.get(&id) {
                Some(&next) => id = next,
                None => break,
            }
        }
        id
    }

    /// Retired ids and the ids they were merged into.
    pub(crate) fn aliases(&self) -> impl Iterator<Item = (KeyId, KeyId)> + '_ {
        self.aliases.iter().map(|(a, b)| (*a, *b))
    }

    pub(crate) fn add_alias(&mut self, from: KeyId, to: KeyId) {
        self.aliases.insert(from, to);
    }

    /// The exact shapes seen (token-sequence signature) and the live key each went to.
    pub(crate) fn shapes(&self) -> impl Iterator<Item = (u64, KeyId)> + '_ {
        self.cache
            .iter()
            .filter(|(_, (slot, id))| self.cluster_at(*slot).is_some_and(|c| c.id == *id))
            .map(|(sig, (_, id))| (*sig, *id))
    }

    /// Remembers that lines of shape `sig` go to `id` (when `id` is live), as before a restart.
    pub(crate) fn restore_shape(&mut self, sig: u64, id: KeyId) {
        if let Some(&slot) = self.by_id.get(&self.canonical(id))
            && self.cache.len() < self.cfg.max_cache
        {
            let id = self.canonical(id);
            self.cache.insert(sig, (slot, id));
        }
    }

    /// The current template of `id`, if it is live.
    pub fn template(&self, id: KeyId) -> Option<String> {
        self.get(id).map(Cluster::template)
    }

    /// The template tokens of `id`, if it is live.
    pub fn template_tokens(&self, id: KeyId) -> Option<&[Box<str>]> {
        self.get(id).map(|c| &c.tokens[..])
    }

    pub(crate) fn get(&self, id: KeyId) -> Option<&Cluster> {
        self.by_id
            .get(&self.canonical(id))
            .and_then(|&s| self.cluster_at(s))
    }

    /// Live templates, in id order.
    pub(crate) fn clusters(&self) -> Vec<&Cluster> {
        let mut v: Vec<&Cluster> = self.slots.iter().flatten().collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// Number of live templates.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when no template is known.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The id the next new template will get.
    pub fn next_id(&self) -> KeyId {
        self.next_id
    }

    pub(crate) fn set_next_id(&mut self, next: KeyId) {
        self.next_id = self.next_id.max(next);
    }

    /// Templates evicted since start.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Approximate heap bytes held by the templates (tokens, hashes, indexes), not the cache.
    pub fn template_bytes(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .map(|c| {
                std::mem::size_of::<Cluster>()
                    + c.tokens
                        .iter()
                        .map(|t| t.len() + std::mem::size_of::<Box<str>>())
                        .sum::<usize>()
                    + c.hashes.len() * 8
                    + c.kinds.len()
                    + 3 * 8 // index entries
            })
            .sum()
    }
}

/// Whether `m`'s template is an instance of `c`'s: every constant of `c` is in `m`.
fn covers(c: &Cluster, m: &Cluster) -> bool {
    c.tokens.len() == m.tokens.len()
        && (0..c.tokens.len()).all(|i| match c.kinds[i] {
            Kind::Wild => true,
            Kind::Literal => c.hashes[i] == m.hashes[i],
            Kind::Partial => {
                c.hashes[i] == m.hashes[i] || partial_match(&c.tokens[i], &m.tokens[i])
            }
        })
}

/// The parts where `a` and `b` differ, once their common prefix and suffix are taken away.
fn differing<'a>(a: &'a str, b: &'a str) -> (&'a [u8], &'a [u8]) {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let p = x.iter().zip(y).take_while(|(l, r)| l == r).count();
    let max_s = x.len().min(y.len()) - p;
    let s = x
        .iter()
        .rev()
        .zip(y.iter().rev())
        .take(max_s)
        .take_while(|(l, r)| l == r)
        .count();
    (&x[p..x.len() - s], &y[p..y.len() - s])
}

/// `a` and `b` differ only in a run of name characters (letters, digits, `_`, `-`, `.`), with
/// the same text around it: `alice7` / `bob`, `(carol)` / `(dave)`.
fn name_variation(a: &str, b: &str) -> bool {
    let (dx, dy) = differing(a, b);
    let name = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    !dx.is_empty() && !dy.is_empty() && dx.iter().chain(dy).all(name)
}

/// Whether two different tokens differ only by letters (`password`/`none`, `(uid=<*>)`/
/// `LOGIN(uid=<*>)`): a candidate constant rather than a value.
fn word_variation(a: &str, b: &str) -> bool {
    let (dx, dy) = differing(a, b);
    (!dx.is_empty() || !dy.is_empty()) && dx.iter().chain(dy).all(u8::is_ascii_alphabetic)
}

/// Share of the template's constant tokens that the line matches, and how many it matches. A
/// template with no constant at all only takes lines whose tokens are all values too, so that it
/// does not swallow every line of its length.
fn similarity(c: &Cluster, toks: &Tokens) -> (f64, u32) {
    let (mut literals, mut equal) = (0u32, 0u32);
    for i in 0..c.tokens.len() {
        match c.kinds[i] {
            Kind::Wild => {}
            Kind::Literal => {
                literals += 1;
                equal += u32::from(c.hashes[i] == toks.hash(i));
            }
            Kind::Partial => {
                literals += 1;
                equal += u32::from(
                    c.hashes[i] == toks.hash(i) || partial_match(&c.tokens[i], toks.get(i)),
                );
            }
        }
    }
    if literals == 0 {
        let all_values = (0..toks.len()).all(|i| has_wildcard(toks.get(i)));
        (if all_values { 1.0 } else { 0.0 }, 0)
    } else {
        (f64::from(equal) / f64::from(literals), equal)
    }
}

/// Whether `tok` fits `pattern`, a token with `<*>` in it: the pieces between the wildcards
/// appear in order, the first at the start and the last at the end.
pub(crate) fn partial_match(pattern: &str, tok: &str) -> bool {
    split_values_with(pattern, tok, |_| {})
}

/// The values that the wildcards of `pattern` stand for in `tok`, or `None` when `tok` does not
/// fit. Each wildcard takes the shortest text up to the next constant piece.
#[cfg(test)]
pub(crate) fn split_values<'t>(pattern: &str, tok: &'t str) -> Option<Vec<&'t str>> {
    let mut values = Vec::new();
    split_values_with(pattern, tok, |v| values.push(v)).then_some(values)
}

/// [`split_values`] without a `Vec`: each value goes to `value` as it is found, and the result
/// says whether `tok` fits (when it does not, some values may already have gone). It runs for
/// every partial token of every line, so it allocates nothing.
pub(crate) fn split_values_with<'t>(
    pattern: &str,
    tok: &'t str,
    mut value: impl FnMut(&'t str),
) -> bool {
    let Some(first) = wildcard_at(pattern) else {
        return tok == pattern;
    };
    let Some(mut rest) = tok.strip_prefix(&pattern[..first]) else {
        return false;
    };
    // The pattern after the wildcard whose value comes next.
    let mut after = &pattern[first + WILDCARD.len()..];
    loop {
        let Some(at) = wildcard_at(after) else {
            // The last constant piece ends the token.
            let Some(v) = rest.strip_suffix(after) else {
                return false;
            };
            value(v);
            return true;
        };
        let piece = &after[..at];
        if piece.is_empty() {
            value("");
        } else {
            // A match of a whole UTF-8 piece starts on a char boundary, so byte search is
            // `str::find`.
            let found = match piece.as_bytes() {
                &[c] => memchr::memchr(c, rest.as_bytes()),
                p => memchr::memmem::find(rest.as_bytes(), p),
            };
            let Some(i) = found else {
                return false;
            };
            value(&rest[..i]);
            rest = &rest[i + piece.len()..];
        }
        after = &after[at + WILDCARD.len()..];
    }
}

#[inline]
fn keeps_prefix(b: u8) -> bool {
    matches!(
        b,
        b'=' | b':' | b'(' | b'[' | b'{' | b'"' | b'\'' | b',' | b'@' | b'#' | b'|' | b';'
    )
}

#[inline]
fn keeps_suffix(b: u8) -> bool {
    matches!(
        b,
        b')' | b']' | b'}' | b'"' | b'\'' | b',' | b':' | b';' | b'.' | b'|'
    )
}

/// The most specific token that both `a` (a template token) and `b` fit: their common prefix up to
/// a key delimiter, `<*>`, their common suffix from a closing delimiter.
pub(crate) fn generalize(a: &str, b: &str) -> String {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let mut p = x.iter().zip(y).take_while(|(l, r)| l == r).count();
    while p > 0 && !keeps_prefix(x[p - 1]) {
        p -= 1;
    }
    let max_s = x.len().min(y.len()) - p;
    let mut s = x
        .iter()
        .rev()
        .zip(y.iter().rev())
        .take(max_s)
        .take_while(|(l, r)| l == r)
        .count();
    while s > 0 && !keeps_suffix(x[x.len() - s]) {
        s -= 1;
    }
    // Never cut into a wildcard already in the prefix or suffix.
    let head = &a[..p];
    let tail = &a[a.len() - s..];
    let mut out = String::with_capacity(p + 3 + s);
    out.push_str(head);
    out.push_str(WILDCARD);
    out.push_str(tail);
    while out.contains("<*><*>") {
        out = out.replace("<*><*>", WILDCARD);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mines all lines, then reports each line's key as it is at the end.
    fn mine_all(m: &mut Miner, lines: &[&str]) -> Vec<KeyId> {
        let ids: Vec<KeyId> = lines.iter().map(|l| m.mine(l)).collect();
        ids.into_iter().map(|id| m.canonical(id)).collect()
    }

    #[test]
    fn variants_of_one_template_share_a_key() {
        let mut m = Miner::default();
        let ids = mine_all(
            &mut m,
            &[
                "Invalid user webmaster from 173.234.31.186",
                "Invalid user test from 10.0.0.2",
                "Invalid user oracle from 10.0.0.3",
                "Connection closed by 10.0.0.3 [preauth]",
            ],
        );
        assert_eq!(ids[0], ids[1]);
        assert_eq!(ids[1], ids[2]);
        assert_ne!(ids[0], ids[3]);
        assert_eq!(m.template(ids[0]).unwrap(), "Invalid user <*> from <*>");
        assert_eq!(
            m.template(ids[3]).unwrap(),
            "Connection closed by <*> [preauth]"
        );
    }

    #[test]
    fn ids_are_stable_as_templates_generalise() {
        let mut m = Miner::default();
        let a = m.mine("session opened for user alice by sshd");
        let b = m.mine("session opened for user bob by sshd");
        // Two words are not yet evidence of a variable: bob keeps a key of its own for now.
        assert_ne!(a, b);
        assert_eq!(
            m.template(b).unwrap(),
            "session opened for user bob by sshd"
        );
        let c = m.mine("session opened for user carol by sshd");
        // The third word makes the position a variable; bob's key is merged, and means what it
        // meant (its lines are an instance of the merged template).
        assert_eq!(m.canonical(a), c);
        assert_eq!(m.canonical(b), c);
        assert_eq!(
            m.template(b).unwrap(),
            "session opened for user <*> by sshd"
        );
        assert_eq!(m.len(), 1);
        assert_eq!(m.mine("session opened for user bob by sshd"), c);
    }

    #[test]
    fn word_variants_stay_apart_until_they_vary_enough() {
        let mut m = Miner::default();
        let ids = mine_all(
            &mut m,
            &[
                "cupsd startup succeeded",
                "cupsd shutdown succeeded",
                "cupsd startup succeeded",
                "Failed password for x from 1.2.3.4",
                "Failed none for x from 1.2.3.4",
            ],
        );
        assert_eq!(ids[0], ids[2]);
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[3], ids[4]);
        assert_eq!(m.template(ids[1]).unwrap(), "cupsd shutdown succeeded");
    }

    #[test]
    fn key_value_keeps_the_key() {
        assert_eq!(generalize("user=alice", "user=bob"), "user=<*>");
        assert_eq!(
            generalize("name=com.android.x", "name=com.tencent.y"),
            "name=<*>"
        );
        assert_eq!(generalize("(alice)", "(bob)"), "(<*>)");
        assert_eq!(generalize("blk_-<*>", "blk_<*>"), "<*>");
        assert_eq!(generalize("foo", "<*>"), "<*>");
        assert_eq!(generalize("uid=<*>", "uid=bob"), "uid=<*>");
    }

    /// `split_values` as it was written first (str::split, str::find, two Vecs): the
    /// reference the byte-search version is held to.
    fn split_values_reference<'t>(pattern: &str, tok: &'t str) -> Option<Vec<&'t str>> {
        let mut pieces = pattern.split(WILDCARD);
        let head = pieces.next().unwrap_or("");
        let mut rest = tok.strip_prefix(head)?;
        let pieces: Vec<&str> = pieces.collect();
        let mut values = Vec::with_capacity(pieces.len());
        for (n, piece) in pieces.iter().enumerate() {
            if n + 1 == pieces.len() {
                let v = rest.strip_suffix(piece)?;
                values.push(v);
                rest = "";
            } else if piece.is_empty() {
                values.push("");
            } else {
                let at = rest.find(piece)?;
                values.push(&rest[..at]);
                rest = &rest[at + piece.len()..];
            }
        }
        rest.is_empty().then_some(values)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        #[test]
        fn split_values_is_the_reference(
            pattern in "(<\\*>|[a-c=:,<>*é]){0,8}",
            tok in "[a-c=:,<>*é0-9]{0,12}",
        ) {
            proptest::prop_assert_eq!(
                split_values(&pattern, &tok),
                split_values_reference(&pattern, &tok),
                "{:?} {:?}", pattern, tok
            );
            proptest::prop_assert_eq!(has_wildcard(&pattern), pattern.contains(WILDCARD));
        }
    }

    #[test]
    fn partial_patterns_split_values() {
        assert_eq!(split_values("uid=<*>,", "uid=42,"), Some(vec!["42"]));
        assert_eq!(
            split_values("<*>:<*>", "10.0.0.1:22"),
            Some(vec!["10.0.0.1", "22"])
        );
        assert_eq!(split_values("uid=<*>", "gid=3"), None);
        assert_eq!(split_values("<*>", "anything"), Some(vec!["anything"]));
    }

    #[test]
    fn different_templates_stay_apart() {
        let mut m = Miner::default();
        let ids = mine_all(
            &mut m,
            &[
                "PacketResponder 1 for block blk_1 terminating",
                "Receiving block blk_2 src: /10.0.0.1:50010 dest: /10.0.0.2:50010",
                "PacketResponder 2 for block blk_3 terminating",
            ],
        );
        assert_eq!(ids[0], ids[2]);
        assert_ne!(ids[0], ids[1]);
    }

    #[test]
    fn a_varying_first_word_joins_the_template_after_enough_variety() {
        let mut m = Miner::default();
        let users = ["alice", "bob", "carol", "dave", "erin", "frank7"];
        let mut ids = Vec::new();
        for u in users {
            ids.push(m.mine(&format!("{u} : TTY=pts/0 ; USER=root ; COMMAND=/bin/ls")));
            // Until three users were seen each keeps its key; then one template covers them all.
            if ids.len() == 2 {
                assert_ne!(m.canonical(ids[0]), m.canonical(ids[1]));
            }
        }
        let key = m.canonical(ids[5]);
        assert!(ids.iter().all(|i| m.canonical(*i) == key), "{ids:?}");
        assert!(
            m.template(key).unwrap().starts_with("<*> : TTY="),
            "{:?}",
            m.template(key)
        );
        // An event word in front stays apart.
        let mut m = Miner::default();
        let a = m.mine("Accepted password for alice from 10.0.0.1 port 22 ssh2");
        let f = m.mine("Failed password for alice from 10.0.0.1 port 22 ssh2");
        let p = m.mine("Postponed password for alice from 10.0.0.1 port 22 ssh2");
        assert!(a != f && f != p && a != p);
    }

    #[test]
    fn aliases_stay_bounded_under_eviction() {
        let cfg = MinerConfig {
            max_templates: 2,
            ..MinerConfig::default()
        };
        let mut m = Miner::new(cfg);
        for i in 0..300 {
            for user in ["alice", "bob", "carol", "dave"] {
                m.mine(&format!("event{i} by user {user} done"));
            }
        }
        assert!(m.aliases().count() <= 4 * 2 + 1, "{}", m.aliases().count());
        let last = m.mine("event299 by user erin done");
        assert_eq!(m.template(last).unwrap(), "event299 by user <*> done");
    }

    #[test]
    fn cap_evicts_least_recent_and_never_reuses_ids() {
        let cfg = MinerConfig {
            max_templates: 2,
            ..MinerConfig::default()
        };
        let mut m = Miner::new(cfg);
        let a = m.mine("alpha one two");
        let b = m.mine("beta three four five");
        m.mine("alpha one two");
        let c = m.mine("gamma x y z w v");
        assert_eq!(m.len(), 2);
        assert!(m.template(b).is_none(), "b was least recently seen");
        assert!(m.template(a).is_some());
        let b2 = m.mine("beta three four five");
        assert!(b2 > c && b2 != b, "an evicted id is retired");
        assert_eq!(m.evicted(), 2);
    }

    #[test]
    fn lookup_does_not_create() {
        let mut m = Miner::default();
        let a = m.mine("disk sda1 full at 99%");
        assert_eq!(m.lookup("disk sda1 full at 12%"), Some(a));
        assert_eq!(m.lookup("something else entirely"), None);
        assert_eq!(m.len(), 1);
    }
}
