//! The pure merge: the current policy document + every live fragment of the
//! tailnet → the new document, who owns what, and conflicts.
//!
//! Ownership lives in the document: each entry a fragment owns is preceded by
//! a line comment `// hybrid-spoke: <fragment id>[, <fragment id>…]`. Entries
//! without that comment, or owned by ids this merge does not manage (another
//! provider's), are foreign: kept byte for byte and never rewritten.
//! Edits are splices of the original text, so comments and formatting of
//! everything else survive.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::hujson::{self, Kind, Member, Node, SyntaxError};
use super::policy::{Entry, Section, canonical};

/// The comment that marks an owned entry.
pub const MARKER: &str = "// hybrid-spoke:";

/// One live fragment: its id (the external name) and its entries.
#[derive(Clone, Debug)]
pub struct Fragment {
    pub id: String,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("the policy is not valid HuJSON: {0}")]
    Syntax(#[from] SyntaxError),
    #[error("the policy's top level is not an object")]
    NotObject,
    #[error("the policy's {0} is not {1}")]
    WrongType(String, &'static str),
}

/// What the merge produced.
#[derive(Clone, Debug, Default)]
pub struct Merged {
    pub text: String,
    pub changed: bool,
    /// Fragment id → why it was held back (its entries are left as they were).
    pub conflicts: BTreeMap<String, Vec<String>>,
}

/// An entry found in the document.
#[derive(Clone, Debug)]
struct Found {
    section: Section,
    key: String,
    value: Value,
    owners: Vec<String>,
    /// What to cut to remove it (its marker line, the entry and its comma).
    cut: (usize, usize),
}

/// Every entry of the managed sections, in document order.
fn scan(text: &str, root: &Node) -> Result<Vec<Found>, MergeError> {
    let mut out = Vec::new();
    for section in Section::ALL {
        let Some(node) = lookup(root, section.path())? else {
            continue;
        };
        let mut push =
            |lead: usize, start: usize, key: String, value: &Node, comma: Option<usize>| {
                let marker = hujson::comments(text, lead, start)
                    .into_iter()
                    .rev()
                    .find(|(_, c)| c.starts_with(MARKER) && c.trim_end() != SECTION_MARKER);
                let (owners, cut_start) = match marker {
                    Some((at, c)) => {
                        let owners = c[MARKER.len()..]
                            .split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect();
                        let nl = text[lead..at].rfind('\n').map_or(lead, |n| lead + n);
                        (owners, nl)
                    }
                    None => (Vec::new(), lead),
                };
                let end = comma.map_or(value.end, |c| c + 1);
                let v = value.to_value();
                let key = if section.is_object() {
                    key
                } else {
                    canonical(&v)
                };
                out.push(Found {
                    section,
                    key,
                    value: v,
                    owners,
                    cut: (cut_start, end),
                });
            };
        match (&node.kind, section.is_object()) {
            (Kind::Object { members, .. }, true) => {
                for m in members {
                    push(m.lead, m.start, m.key.clone(), &m.value, m.comma);
                }
            }
            (Kind::Array { items, .. }, false) => {
                for i in items {
                    push(i.lead, i.value.start, String::new(), &i.value, i.comma);
                }
            }
            (_, true) => return Err(MergeError::WrongType(section.name(), "an object")),
            (_, false) => return Err(MergeError::WrongType(section.name(), "a list")),
        }
    }
    Ok(out)
}

/// The node at `path`, if every step exists.
fn lookup<'a>(root: &'a Node, path: &[&str]) -> Result<Option<&'a Node>, MergeError> {
    let mut node = root;
    for (depth, key) in path.iter().enumerate() {
        if !matches!(node.kind, Kind::Object { .. }) {
            return Err(MergeError::WrongType(path[..depth].join("."), "an object"));
        }
        match node.get(key) {
            Some(m) => node = &m.value,
            None => return Ok(None),
        }
    }
    Ok(Some(node))
}

fn parse_root(text: &str) -> Result<Node, MergeError> {
    let root = hujson::parse(text)?;
    match root.kind {
        Kind::Object { .. } => Ok(root),
        _ => Err(MergeError::NotObject),
    }
}

/// The entries the document says `id` owns.
pub fn owned_by(text: &str, id: &str) -> Result<Vec<Entry>, MergeError> {
    let root = parse_root(text)?;
    Ok(scan(text, &root)?
        .into_iter()
        .filter(|f| f.owners.iter().any(|o| o == id))
        .map(|f| Entry {
            section: f.section,
            key: f.key,
            value: f.value,
        })
        .collect())
}

/// Whether the document holds exactly `entries` for `id`: each one marked as
/// its own (or, identical, written by someone else), and nothing else marked
/// as its own.
pub fn up_to_date(text: &str, id: &str, entries: &[Entry]) -> Result<bool, MergeError> {
    let root = parse_root(text)?;
    let found = scan(text, &root)?;
    let mine: Vec<&Found> = found
        .iter()
        .filter(|f| f.owners.iter().any(|o| o == id))
        .collect();
    let all_present = entries.iter().all(|e| {
        found
            .iter()
            .any(|f| f.section == e.section && f.key == e.key && f.value == e.value)
    });
    let none_extra = mine.iter().all(|f| {
        entries
            .iter()
            .any(|e| f.section == e.section && f.key == e.key && f.value == e.value)
    });
    Ok(all_present && none_extra)
}

/// Merges `live` fragments into `text`, removing the entries of `removed`
/// ids. Only entries marked with a live or removed id are touched.
pub fn merge(text: &str, live: &[Fragment], removed: &[String]) -> Result<Merged, MergeError> {
    let mut text = if text.trim().is_empty() {
        "{}\n".to_string()
    } else {
        text.to_string()
    };
    let mut root = parse_root(&text)?;
    let original = text.clone();

    // Sections a live fragment writes to must exist first (rare: one reparse
    // per created level).
    let needed: BTreeSet<Section> = live
        .iter()
        .flat_map(|f| f.entries.iter().map(|e| e.section))
        .collect();
    for section in needed {
        while let Some((at, insert)) = missing_container(&text, &root, section.path())? {
            text.insert_str(at, &insert);
            root = parse_root(&text)?;
        }
    }

    let found = scan(&text, &root)?;
    let mut managed: BTreeSet<&str> = live.iter().map(|f| f.id.as_str()).collect();
    managed.extend(removed.iter().map(String::as_str));

    // Hold back conflicting fragments until nothing changes: a held
    // fragment's entries stay in the document, and so count as foreign.
    let mut held: BTreeMap<String, Vec<String>> = BTreeMap::new();
    loop {
        let active = |id: &str| managed.contains(id) && !held.contains_key(id);
        let mut new_conflicts: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // Keyed sections: (section, key) → (value, ids wanting it).
        let mut wanted: BTreeMap<(Section, &str), Vec<(&Value, &str)>> = BTreeMap::new();
        for f in live.iter().filter(|f| active(&f.id)) {
            for e in f.entries.iter().filter(|e| e.section.is_object()) {
                wanted
                    .entry((e.section, e.key.as_str()))
                    .or_default()
                    .push((&e.value, f.id.as_str()));
            }
        }
        let foreign: HashMap<(Section, &str), &Value> = found
            .iter()
            .filter(|f| f.section.is_object() && !f.owners.iter().any(|o| active(o)))
            .map(|f| ((f.section, f.key.as_str()), &f.value))
            .collect();
        for ((section, key), wants) in &wanted {
            let what = format!("{}[{:?}]", section.name(), key);
            for (value, id) in wants {
                for (other_value, other) in wants {
                    if other_value != value && other != id {
                        new_conflicts
                            .entry(id.to_string())
                            .or_default()
                            .push(format!(
                                "{what} is defined differently by AclFragment {other:?}"
                            ));
                    }
                }
                if let Some(fv) = foreign.get(&(*section, *key))
                    && fv != value
                {
                    {
                        new_conflicts
                            .entry(id.to_string())
                            .or_default()
                            .push(format!(
                                "{what} is already defined in the policy by another writer as {}",
                                canonical(fv)
                            ));
                    }
                }
            }
        }
        new_conflicts.retain(|id, _| !held.contains_key(id));
        if new_conflicts.is_empty() {
            break;
        }
        for (id, mut msgs) in new_conflicts {
            msgs.sort();
            msgs.dedup();
            held.insert(id, msgs);
        }
    }
    let active = |id: &str| managed.contains(id) && !held.contains_key(id);

    // What the active fragments want: (section, key) → (value, owners).
    let mut desired: BTreeMap<(Section, String), (Value, BTreeSet<String>)> = BTreeMap::new();
    let mut order: Vec<(Section, String)> = Vec::new();
    for f in live.iter().filter(|f| active(&f.id)) {
        for e in &f.entries {
            let k = (e.section, e.key.clone());
            let slot = desired.entry(k.clone()).or_insert_with(|| {
                order.push(k);
                (e.value.clone(), BTreeSet::new())
            });
            slot.1.insert(f.id.clone());
        }
    }

    let mut edits: Vec<Edit> = Vec::new();
    let mut satisfied: BTreeSet<(Section, String)> = BTreeSet::new();
    for f in &found {
        let k = (f.section, f.key.clone());
        let ours = f.owners.iter().any(|o| active(o));
        if !ours {
            // Identical foreign entry: nothing to write.
            if desired.get(&k).is_some_and(|(v, _)| *v == f.value) {
                satisfied.insert(k);
            }
            continue;
        }
        let keep = !satisfied.contains(&k)
            && desired.get(&k).is_some_and(|(v, owners)| {
                *v == f.value && owners.iter().map(String::as_str).eq(sorted(&f.owners))
            });
        if keep {
            satisfied.insert(k);
        } else {
            edits.push(Edit {
                at: f.cut.0,
                cut: f.cut.1,
                insert: String::new(),
            });
        }
    }

    // Insert the rest at the end of its section, after the last kept entry.
    let mut by_section: BTreeMap<Section, Vec<String>> = BTreeMap::new();
    for k in order.iter().filter(|k| !satisfied.contains(*k)) {
        let (value, owners) = &desired[k];
        let owners: Vec<&str> = owners.iter().map(String::as_str).collect();
        let body = if k.0.is_object() {
            format!("{}: {}", Value::from(k.1.as_str()), value)
        } else {
            value.to_string()
        };
        by_section
            .entry(k.0)
            .or_default()
            .push(format!("{MARKER} {}\n\u{0}{body},", owners.join(", ")));
    }
    let removed_at: BTreeSet<usize> = edits.iter().map(|e| e.cut).collect();
    let inserted: BTreeSet<Section> = by_section.keys().copied().collect();
    for (section, entries) in by_section {
        let Some(node) = lookup(&root, section.path())? else {
            continue;
        };
        edits.push(append(&text, node, &entries, &removed_at));
    }
    drop_empty_created_sections(&text, &root, &inserted, &mut edits);

    // Apply from the end; at one offset, cut before inserting.
    edits.sort_by(|a, b| {
        b.at.cmp(&a.at)
            .then(a.insert.is_empty().cmp(&b.insert.is_empty()).reverse())
    });
    for e in &edits {
        text.replace_range(e.at..e.cut, &e.insert);
    }
    Ok(Merged {
        changed: text != original,
        text,
        conflicts: held,
    })
}

fn sorted(v: &[String]) -> Vec<&str> {
    let mut s: Vec<&str> = v.iter().map(String::as_str).collect();
    s.sort();
    s.dedup();
    s
}

/// Replace `text[at..cut]` with `insert`.
#[derive(Debug)]
struct Edit {
    at: usize,
    cut: usize,
    insert: String,
}

/// The indentation of the line holding offset `at`.
fn line_indent(text: &str, at: usize) -> &str {
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let line = &text[line_start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// The edit appending `entries` (each `marker\n\0body,`; `\0` stands for the
/// indentation) to the container `node`.
fn append(text: &str, node: &Node, entries: &[String], removed_ends: &BTreeSet<usize>) -> Edit {
    // The last child that stays, as (value end, comma).
    let (children, close): (Vec<(usize, usize, Option<usize>)>, usize) = match &node.kind {
        Kind::Array { items, close } => (
            items
                .iter()
                .map(|i| (i.value.start, i.value.end, i.comma))
                .collect(),
            *close,
        ),
        Kind::Object { members, close } => (
            members
                .iter()
                .map(|m| (m.start, m.value.end, m.comma))
                .collect(),
            *close,
        ),
        Kind::Scalar(_) => (Vec::new(), node.end),
    };
    let kept: Vec<_> = children
        .iter()
        .filter(|(_, end, comma)| !removed_ends.contains(&comma.map_or(*end, |c| c + 1)))
        .collect();
    let close_indent = line_indent(text, close);
    let unit = if close_indent.contains('\t') || text.contains("\n\t") {
        "\t"
    } else {
        "  "
    };
    let indent = match children.first() {
        Some((start, _, _)) if text[..*start].trim_end_matches([' ', '\t']).ends_with('\n') => {
            line_indent(text, *start).to_string()
        }
        _ => format!("{}{unit}", line_indent(text, node.start)),
    };
    let mut insert = String::new();
    let at = match kept.last() {
        Some((_, end, None)) => {
            insert.push(',');
            *end
        }
        Some((_, _, Some(c))) => {
            // After a comment on the same line as the comma.
            let rest = &text[c + 1..];
            let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
            if line.trim_start().starts_with("//") {
                c + 1 + line.len()
            } else {
                c + 1
            }
        }
        None => node.start + 1,
    };
    for e in entries {
        for line in e.split('\n') {
            insert.push('\n');
            insert.push_str(&indent);
            insert.push_str(line.trim_start_matches('\u{0}'));
        }
    }
    if !text[node.start..close].contains('\n') {
        insert.push('\n');
        insert.push_str(line_indent(text, node.start));
    }
    Edit {
        at,
        cut: at,
        insert,
    }
}

/// The first missing container on `path`, as the text to insert and where.
fn missing_container(
    text: &str,
    root: &Node,
    path: &[&str],
) -> Result<Option<(usize, String)>, MergeError> {
    let mut node = root;
    for (depth, key) in path.iter().enumerate() {
        match node.get(key) {
            Some(m) => node = &m.value,
            None => {
                if !matches!(node.kind, Kind::Object { .. }) {
                    return Err(MergeError::WrongType(path[..depth].join("."), "an object"));
                }
                let leaf = depth + 1 == path.len();
                let empty = match path {
                    ["autoApprovers", "exitNode"]
                    | ["grants"]
                    | ["acls"]
                    | ["ssh"]
                    | ["nodeAttrs"]
                    | ["tests"]
                        if leaf =>
                    {
                        "[]"
                    }
                    _ => "{}",
                };
                let entry = format!("{SECTION_MARKER}\n\u{0}{}: {empty},", Value::from(*key));
                let edit = append(text, node, &[entry], &BTreeSet::new());
                return Ok(Some((edit.at, edit.insert)));
            }
        }
    }
    Ok(None)
}

/// Marks a container the merge created: shared by every fragment, removed
/// again once empty (a container someone else made is never removed).
pub const SECTION_MARKER: &str = "// hybrid-spoke: section (removed when empty)";

/// Removes the containers this provider created that this merge leaves
/// empty (deepest first, so `autoApprovers` goes after its children).
fn drop_empty_created_sections(
    text: &str,
    root: &Node,
    inserted: &BTreeSet<Section>,
    edits: &mut Vec<Edit>,
) {
    let paths: Vec<&[&str]> = Section::ALL
        .iter()
        .map(|s| s.path())
        .filter(|p| p.len() == 2)
        .chain(
            Section::ALL
                .iter()
                .map(|s| s.path())
                .filter(|p| p.len() == 1),
        )
        .chain(std::iter::once(&["autoApprovers"][..]))
        .collect();
    let mut dropped: Vec<(usize, usize)> = Vec::new();
    let cut_of = |m: &Member| m.comma.map_or(m.value.end, |c| c + 1);
    for path in paths {
        let Some((last, parents)) = path.split_last() else {
            continue;
        };
        let Ok(Some(parent)) = lookup(root, parents) else {
            continue;
        };
        let Some(member) = parent.get(last) else {
            continue;
        };
        let Some((at, _)) = hujson::comments(text, member.lead, member.start)
            .into_iter()
            .rev()
            .find(|(_, c)| c.trim_end() == SECTION_MARKER)
        else {
            continue;
        };
        if Section::ALL
            .iter()
            .any(|s| s.path() == path && inserted.contains(s))
        {
            continue;
        }
        let gone = |end: usize| {
            edits.iter().any(|e| e.insert.is_empty() && e.cut == end)
                || dropped.iter().any(|d| d.1 == end)
        };
        let remaining = match &member.value.kind {
            Kind::Object { members, .. } => members.iter().filter(|m| !gone(cut_of(m))).count(),
            Kind::Array { items, .. } => items
                .iter()
                .filter(|i| !gone(i.comma.map_or(i.value.end, |c| c + 1)))
                .count(),
            Kind::Scalar(_) => 1,
        };
        if remaining == 0 {
            let start = text[member.lead..at]
                .rfind('\n')
                .map_or(member.lead, |n| member.lead + n);
            dropped.push((start, cut_of(member)));
        }
    }
    for (start, end) in dropped.iter().copied() {
        edits.retain(|e| !(e.at >= start && e.cut <= end));
    }
    // An outer container dropped with its inner one: keep the outer cut only.
    let outer: Vec<(usize, usize)> = dropped
        .iter()
        .copied()
        .filter(|(s, e)| {
            !dropped
                .iter()
                .any(|(s2, e2)| (s2, e2) != (s, e) && s2 <= s && e <= e2)
        })
        .collect();
    edits.extend(outer.into_iter().map(|(at, cut)| Edit {
        at,
        cut,
        insert: String::new(),
    }));
}

#[cfg(test)]
mod tests;
