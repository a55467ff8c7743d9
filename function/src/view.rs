//! `google.protobuf.Struct`s read in place from the request's bytes.
//!
//! Crossplane sends every observed composed resource whole (spec, status,
//! managed fields), and the function reads a few fields of each. Decoding
//! them into `Struct` maps cost most of a request's CPU (docs/performance.md);
//! a view instead walks the wire format when a field is asked for, skipping
//! what is never read by its length prefix.
//!
//! A view reads every valid encoding as prost decodes it: fields in any
//! order, unknown fields skipped, a repeated map key's last entry wins, a
//! message field given more than once is merged (its parts are kept as
//! `segments`, read in order), a `oneof` given more than once keeps its last
//! member, merging repeated message members (`tests/view_equivalence.rs`
//! fuzzes this against prost). Where prost would refuse the whole request
//! (a truncated field, a string that is not UTF-8), a view reads "absent":
//! only what the function reads is ever checked.

/// The parts of one message: a message field given several times on the
/// wire is the merge of all its occurrences, in order. Nearly always one,
/// kept without allocating (and covariant in `'a`, which `SmallVec` is not).
#[derive(Clone, Debug, Default)]
pub enum Segments<'a> {
    #[default]
    None,
    One(&'a [u8]),
    Many(Vec<&'a [u8]>),
}

impl<'a> Segments<'a> {
    pub fn new() -> Self {
        Segments::None
    }

    pub fn one(bytes: &'a [u8]) -> Self {
        Segments::One(bytes)
    }

    pub fn push(&mut self, bytes: &'a [u8]) {
        *self = match std::mem::take(self) {
            Segments::None => Segments::One(bytes),
            Segments::One(first) => Segments::Many(vec![first, bytes]),
            Segments::Many(mut all) => {
                all.push(bytes);
                Segments::Many(all)
            }
        };
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        let (one, many): (Option<&'a [u8]>, &[&'a [u8]]) = match self {
            Segments::None => (None, &[]),
            Segments::One(bytes) => (Some(*bytes), &[]),
            Segments::Many(all) => (None, all.as_slice()),
        };
        one.into_iter().chain(many.iter().copied())
    }
}

impl<'a> FromIterator<&'a [u8]> for Segments<'a> {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Self {
        let mut segments = Segments::None;
        for bytes in iter {
            segments.push(bytes);
        }
        segments
    }
}

/// A `google.protobuf.Struct`.
#[derive(Clone, Debug, Default)]
pub struct StructView<'a> {
    segments: Segments<'a>,
}

/// A `google.protobuf.Value`.
#[derive(Clone, Debug, Default)]
pub struct ValueView<'a> {
    segments: Segments<'a>,
}

/// A `google.protobuf.ListValue`.
#[derive(Clone, Debug, Default)]
pub struct ListView<'a> {
    segments: Segments<'a>,
}

/// What a [`ValueView`] holds: the kind its last `kind` member sets.
#[derive(Clone, Debug)]
pub enum KindView<'a> {
    Null,
    Number(f64),
    String(&'a str),
    Bool(bool),
    Struct(StructView<'a>),
    List(ListView<'a>),
}

// Field numbers of struct.proto.
const STRUCT_FIELDS: u32 = 1;
/// A map entry's fields (every protobuf map is encoded this way).
pub const ENTRY_KEY: u32 = 1;
pub const ENTRY_VALUE: u32 = 2;
const VALUE_NULL: u32 = 1;
const VALUE_NUMBER: u32 = 2;
const VALUE_STRING: u32 = 3;
const VALUE_BOOL: u32 = 4;
const VALUE_STRUCT: u32 = 5;
const VALUE_LIST: u32 = 6;
const LIST_VALUES: u32 = 1;

impl<'a> StructView<'a> {
    pub fn new(segments: Segments<'a>) -> Self {
        StructView { segments }
    }

    /// The value of `key`: the last entry with that key, as prost's map
    /// decoding keeps.
    pub fn get(&self, key: &str) -> Option<ValueView<'a>> {
        let mut found = None;
        for (entry_key, value) in self.entries() {
            if entry_key == key {
                found = Some(value);
            }
        }
        found
    }

    /// Every entry in wire order, repeated keys included (the last wins).
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, ValueView<'a>)> + '_ {
        self.segments
            .iter()
            .flat_map(Fields::new)
            .filter_map(|field| match field {
                Field::Bytes(STRUCT_FIELDS, entry) => Some(read_entry(entry)),
                _ => None,
            })
            .flatten()
    }

    /// The value at a pointer (`/status/atProvider/arn`), list items by
    /// index, as [`crate::pb::pointer`] reads a decoded `Struct`.
    pub fn pointer(&self, pointer: &str) -> Option<ValueView<'a>> {
        let mut parts = pointer.strip_prefix('/')?.split('/');
        let mut value = self.get(parts.next()?)?;
        for part in parts {
            value = match value.kind()? {
                KindView::Struct(s) => s.get(part)?,
                KindView::List(l) => l.iter().nth(part.parse().ok()?)?,
                _ => return None,
            };
        }
        Some(value)
    }
}

/// One map entry: its key (the last given; "" when none) and its value
/// (every occurrence, merged). `None` when the key is not UTF-8.
fn read_entry(entry: &[u8]) -> Option<(&str, ValueView<'_>)> {
    let mut key: &[u8] = &[];
    let mut value = ValueView::default();
    for field in Fields::new(entry) {
        match field {
            Field::Bytes(ENTRY_KEY, bytes) => key = bytes,
            Field::Bytes(ENTRY_VALUE, bytes) => value.segments.push(bytes),
            _ => {}
        }
    }
    Some((std::str::from_utf8(key).ok()?, value))
}

impl<'a> ValueView<'a> {
    /// The kind the value holds; `None` when no member is set (prost's
    /// `Value { kind: None }`) or the member is malformed.
    pub fn kind(&self) -> Option<KindView<'a>> {
        let mut kind: Option<KindView<'a>> = None;
        for field in self.segments.iter().flat_map(Fields::new) {
            kind = match field {
                Field::Varint(VALUE_NULL, _) => Some(KindView::Null),
                Field::Fixed64(VALUE_NUMBER, bits) => Some(KindView::Number(f64::from_bits(bits))),
                Field::Bytes(VALUE_STRING, bytes) => match std::str::from_utf8(bytes) {
                    Ok(text) => Some(KindView::String(text)),
                    Err(_) => None,
                },
                Field::Varint(VALUE_BOOL, v) => Some(KindView::Bool(v != 0)),
                // A message member given again merges into the one before
                // it when that is the same member, and replaces it if not.
                Field::Bytes(VALUE_STRUCT, bytes) => Some(match kind {
                    Some(KindView::Struct(mut s)) => {
                        s.segments.push(bytes);
                        KindView::Struct(s)
                    }
                    _ => KindView::Struct(StructView::new(Segments::one(bytes))),
                }),
                Field::Bytes(VALUE_LIST, bytes) => Some(match kind {
                    Some(KindView::List(mut l)) => {
                        l.segments.push(bytes);
                        KindView::List(l)
                    }
                    _ => KindView::List(ListView {
                        segments: Segments::one(bytes),
                    }),
                }),
                _ => kind,
            };
        }
        kind
    }

    /// The string this value holds, if it is one.
    pub fn as_str(&self) -> Option<&'a str> {
        match self.kind()? {
            KindView::String(text) => Some(text),
            _ => None,
        }
    }

    /// The struct this value holds, if it is one.
    pub fn as_struct(&self) -> Option<StructView<'a>> {
        match self.kind()? {
            KindView::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// The list this value holds, if it is one.
    pub fn as_list(&self) -> Option<ListView<'a>> {
        match self.kind()? {
            KindView::List(l) => Some(l),
            _ => None,
        }
    }
}

impl<'a> ListView<'a> {
    /// The items in order (a repeated field: every occurrence is an item).
    pub fn iter(&self) -> impl Iterator<Item = ValueView<'a>> + '_ {
        self.segments
            .iter()
            .flat_map(Fields::new)
            .filter_map(|field| match field {
                Field::Bytes(LIST_VALUES, bytes) => Some(ValueView {
                    segments: Segments::one(bytes),
                }),
                _ => None,
            })
    }
}

/// One field of a message on the wire, by number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Field<'a> {
    Varint(u32, u64),
    Fixed64(u32, u64),
    Bytes(u32, &'a [u8]),
    Fixed32(u32, u32),
    /// A (deprecated, proto2) group: skipped whole, as prost skips it.
    Group(u32),
}

/// The fields of one message, in wire order. Anything malformed ends the
/// iteration (what follows cannot be framed) and sets [`Fields::malformed`].
pub struct Fields<'a> {
    rest: &'a [u8],
    malformed: bool,
}

/// prost's limit on nested groups (its recursion limit).
const GROUP_DEPTH: u32 = 100;

impl<'a> Fields<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Fields {
            rest: bytes,
            malformed: false,
        }
    }

    /// The next field with its whole encoding (key included), to be
    /// handed on as it is.
    pub fn next_encoded(&mut self) -> Option<(Field<'a>, &'a [u8])> {
        let before = self.rest;
        let field = self.next()?;
        Some((field, &before[..before.len() - self.rest.len()]))
    }

    /// Whether the iteration stopped on bytes that are not a field.
    pub fn malformed(&self) -> bool {
        self.malformed
    }

    fn next_field(&mut self, depth: u32) -> Option<Field<'a>> {
        let key = read_varint(&mut self.rest)?;
        let number = u32::try_from(key >> 3).ok().filter(|n| *n != 0)?;
        Some(match key & 7 {
            0 => Field::Varint(number, read_varint(&mut self.rest)?),
            1 => Field::Fixed64(number, u64::from_le_bytes(self.take(8)?.try_into().ok()?)),
            2 => {
                let len = usize::try_from(read_varint(&mut self.rest)?).ok()?;
                Field::Bytes(number, self.take(len)?)
            }
            3 if depth < GROUP_DEPTH => {
                // Until the end-group key of the same number.
                loop {
                    let before = self.rest;
                    let key = read_varint(&mut self.rest)?;
                    if key & 7 == 4 {
                        if key >> 3 == u64::from(number) {
                            break Field::Group(number);
                        }
                        return None;
                    }
                    self.rest = before;
                    self.next_field(depth + 1)?;
                }
            }
            5 => Field::Fixed32(number, u32::from_le_bytes(self.take(4)?.try_into().ok()?)),
            _ => return None,
        })
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if self.rest.len() < len {
            return None;
        }
        let (head, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(head)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let field = self.next_field(0);
        if field.is_none() {
            self.malformed = true;
            self.rest = &[];
        }
        field
    }
}

/// A base-128 varint, at most ten bytes as in prost.
fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(value);
        }
    }
    None
}
