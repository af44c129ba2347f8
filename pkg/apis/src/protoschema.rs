//! The protobuf schemas of the built-in API as compact static tables: every message of upstream's
//! `generated.proto` files with its fields (number, protobuf and JSON names, type, list/map shape)
//! and the JSON facts the `.proto` files do not carry (see `build.rs`).
//!
//! The tables are generated at build time as plain integers and one string, so they sit in the
//! binary's read-only data: nothing is decoded or allocated at start-up, and a lookup touches
//! only the rows it reads. Protobuf encoding and decoding ([`crate::protobuf`]), field pruning,
//! and the type graph of strategic merge patch and server-side apply ([`crate::patchmeta`]) all
//! read them.

/// One message: its full name and its fields' rows in [`FIELDS`] (`start..end`).
struct RawMsg {
    name: (u32, u32),
    fields: (u32, u32),
    /// The Go struct embeds TypeMeta: `apiVersion` and `kind` are known keys of its JSON.
    typemeta: bool,
}

/// One field. For a map field, `kind`/`msg` are those of its values and `key_kind` that of its
/// keys.
struct RawField {
    number: u32,
    name: (u32, u32),
    json: (u32, u32),
    /// `google.protobuf.FieldDescriptorProto.Type`.
    kind: i32,
    key_kind: i32,
    /// The message (index into [`MESSAGES`]) when `kind` is a message.
    msg: u32,
    parent: u32,
    flags: u8,
}

const FLAG_LIST: u8 = 1;
const FLAG_MAP: u8 = 2;
const FLAG_PTR: u8 = 4;
const FLAG_KEEP: u8 = 8;
const FLAG_INLINE: u8 = 16;

include!(concat!(env!("OUT_DIR"), "/k8s-schema.rs"));

fn text((off, len): (u32, u32)) -> &'static str {
    STRINGS
        .get(off as usize..(off + len) as usize)
        .unwrap_or_default()
}

/// Whether this build has the schemas at all.
pub(crate) fn available() -> bool {
    !MESSAGES.is_empty()
}

/// The type of a field's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Double,
    Float,
    Int64,
    Uint64,
    Int32,
    Fixed64,
    Fixed32,
    Bool,
    String,
    Bytes,
    Uint32,
    Enum,
    Sfixed32,
    Sfixed64,
    Sint32,
    Sint64,
    Message(Msg),
}

impl Kind {
    fn of(ty: i32, msg: u32) -> Kind {
        match ty {
            1 => Kind::Double,
            2 => Kind::Float,
            3 => Kind::Int64,
            4 => Kind::Uint64,
            5 => Kind::Int32,
            6 => Kind::Fixed64,
            7 => Kind::Fixed32,
            8 => Kind::Bool,
            9 => Kind::String,
            12 => Kind::Bytes,
            13 => Kind::Uint32,
            14 => Kind::Enum,
            15 => Kind::Sfixed32,
            16 => Kind::Sfixed64,
            17 => Kind::Sint32,
            18 => Kind::Sint64,
            // 11; groups (10) do not occur in upstream's schemas.
            _ => Kind::Message(Msg(msg)),
        }
    }

    pub(crate) fn as_message(self) -> Option<Msg> {
        match self {
            Kind::Message(m) => Some(m),
            _ => None,
        }
    }
}

/// A message of the schemas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Msg(u32);

impl Msg {
    fn raw(self) -> &'static RawMsg {
        &MESSAGES[self.0 as usize]
    }

    /// The message with this full name (`k8s.io.api.core.v1.Pod`).
    pub(crate) fn by_name(name: &str) -> Option<Msg> {
        MESSAGES
            .binary_search_by(|m| text(m.name).cmp(name))
            .ok()
            .map(|i| Msg(i as u32))
    }

    pub(crate) fn full_name(self) -> &'static str {
        text(self.raw().name)
    }

    /// The name without the package (`Pod`).
    pub(crate) fn name(self) -> &'static str {
        let full = self.full_name();
        full.rsplit_once('.').map_or(full, |(_, n)| n)
    }

    /// The package (`k8s.io.api.core.v1`).
    pub(crate) fn package(self) -> &'static str {
        self.full_name().rsplit_once('.').map_or("", |(p, _)| p)
    }

    /// The Go struct embeds TypeMeta.
    pub(crate) fn typemeta(self) -> bool {
        self.raw().typemeta
    }

    /// The fields, in number order.
    pub(crate) fn fields(self) -> impl Iterator<Item = Field> + Clone {
        let (start, end) = self.raw().fields;
        (start..end).map(Field)
    }

    /// The field with this protobuf name.
    pub(crate) fn field_by_name(self, name: &str) -> Option<Field> {
        self.fields().find(|f| f.name() == name)
    }

    /// The field with this number.
    pub(crate) fn field_by_number(self, number: u32) -> Option<Field> {
        let (start, end) = self.raw().fields;
        let rows = FIELDS.get(start as usize..end as usize)?;
        rows.binary_search_by_key(&number, |f| f.number)
            .ok()
            .map(|i| Field(start + i as u32))
    }

    /// Position in the tables, `0..count()`.
    #[cfg(test)]
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }

    /// How many messages there are.
    #[cfg(test)]
    pub(crate) fn count() -> usize {
        MESSAGES.len()
    }

    /// Every message.
    #[cfg(test)]
    pub(crate) fn all() -> impl Iterator<Item = Msg> {
        (0..MESSAGES.len() as u32).map(Msg)
    }
}

/// A field of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Field(u32);

impl Field {
    fn raw(self) -> &'static RawField {
        &FIELDS[self.0 as usize]
    }

    pub(crate) fn number(self) -> u32 {
        self.raw().number
    }

    /// The protobuf name.
    pub(crate) fn name(self) -> &'static str {
        text(self.raw().name)
    }

    /// The JSON key; `None` for a struct embedded inline (its fields are the parent's).
    pub(crate) fn json(self) -> Option<&'static str> {
        let r = self.raw();
        (r.flags & FLAG_INLINE == 0).then(|| text(r.json))
    }

    /// The type of the field's values (of its items for a list, of its values for a map).
    pub(crate) fn kind(self) -> Kind {
        let r = self.raw();
        Kind::of(r.kind, r.msg)
    }

    /// The type of a map field's keys.
    pub(crate) fn map_key_kind(self) -> Kind {
        Kind::of(self.raw().key_kind, 0)
    }

    pub(crate) fn is_list(self) -> bool {
        self.raw().flags & FLAG_LIST != 0
    }

    pub(crate) fn is_map(self) -> bool {
        self.raw().flags & FLAG_MAP != 0
    }

    /// A Go pointer field: written only when set.
    pub(crate) fn ptr(self) -> bool {
        self.raw().flags & FLAG_PTR != 0
    }

    /// A non-pointer field without `omitempty`: its zero value shows in JSON.
    pub(crate) fn keep(self) -> bool {
        self.raw().flags & FLAG_KEEP != 0
    }

    /// The message the field belongs to.
    pub(crate) fn parent(self) -> Msg {
        Msg(self.raw().parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        if !available() {
            return;
        }
        for w in MESSAGES.windows(2) {
            assert!(text(w[0].name) < text(w[1].name));
        }
        for m in Msg::all() {
            let numbers: Vec<u32> = m.fields().map(Field::number).collect();
            assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{}", m.full_name());
            for f in m.fields() {
                assert_eq!(f.parent(), m);
                assert_eq!(m.field_by_number(f.number()), Some(f));
                if let Kind::Message(t) = f.kind() {
                    assert!(t.index() < Msg::count());
                }
            }
        }
        let pod = Msg::by_name("k8s.io.api.core.v1.Pod").unwrap();
        assert_eq!((pod.name(), pod.package()), ("Pod", "k8s.io.api.core.v1"));
        assert!(pod.typemeta());
        let spec = pod.field_by_name("spec").unwrap();
        assert_eq!(spec.kind().as_message().map(Msg::name), Some("PodSpec"));
        let labels = Msg::by_name("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")
            .and_then(|m| m.field_by_name("labels"))
            .unwrap();
        assert!(labels.is_map() && !labels.is_list());
        assert_eq!(
            (labels.map_key_kind(), labels.kind()),
            (Kind::String, Kind::String)
        );
        let probe = Msg::by_name("k8s.io.api.core.v1.Probe").unwrap();
        assert_eq!(probe.field_by_name("handler").unwrap().json(), None);
        assert!(Msg::by_name("k8s.io.api.core.v1.Nope").is_none());
    }
}
