//! The walker: reads lengths and counts, skips values, and never allocates.

#![deny(clippy::indexing_slicing)]

use super::{Field, Kind, MAX_DEPTH, MAX_STRING_BYTES, Malformed, Part, Path, Problem, Value};

/// A problem found during the walk, with the path built as it unwinds. Boxed so the walk's
/// `Result`s stay one word wide; only an error allocates.
pub(super) struct Fault(Box<FaultState>);

/// What a [`Fault`] carries.
struct FaultState {
    /// What is wrong.
    problem: Problem,
    /// Where, innermost first.
    path: Path,
    /// The element index to attach to the next field name pushed (set by an array loop).
    index: Option<usize>,
}

impl Fault {
    /// A fault at the current position, with no path yet.
    fn new(problem: Problem) -> Fault {
        Fault(Box::new(FaultState {
            problem,
            path: Path::default(),
            index: None,
        }))
    }

    /// Records that the fault is inside element `index` of the array being walked.
    fn in_element(mut self, index: usize) -> Fault {
        self.0.index = Some(index);
        self
    }

    /// Records that the fault is inside field `name`.
    fn in_field(mut self, name: &'static str) -> Fault {
        let index = self.0.index.take();
        self.0.path.push_outer(name, index);
        self
    }

    /// The description handed to callers.
    pub(super) fn into_malformed(self, part: Part) -> Box<Malformed> {
        let FaultState { problem, path, .. } = *self.0;
        Box::new(Malformed {
            part,
            path,
            problem,
        })
    }
}

/// Walks `fields` at `version` over the start of `bytes`, with at most `max_structs` array
/// elements that are structs, and returns how many bytes they took.
pub(super) fn prefix(
    fields: &'static [Field],
    version: i16,
    flexible: bool,
    bytes: &[u8],
    max_structs: usize,
) -> Result<usize, Fault> {
    let mut walker = Walker {
        bytes,
        position: 0,
        end: bytes.len(),
        version,
        flexible,
        structs_left: max_structs,
        max_structs,
    };
    walker.structure(fields, 0)?;
    Ok(walker.position)
}

/// A cursor over one message. `position <= end <= bytes.len()` always holds.
struct Walker<'a> {
    /// The whole message.
    bytes: &'a [u8],
    /// The next byte to read.
    position: usize,
    /// Where reading must stop: the end of the message, or of a tagged field's value.
    end: usize,
    /// The version being walked.
    version: i16,
    /// Whether that version is flexible.
    flexible: bool,
    /// How many more struct elements the message may have.
    structs_left: usize,
    /// The most it may have in all.
    max_structs: usize,
}

impl Walker<'_> {
    /// Bytes left before `end`.
    fn left(&self) -> usize {
        self.end - self.position
    }

    /// Steps over `count` bytes.
    fn skip(&mut self, count: usize) -> Result<(), Fault> {
        let left = self.left();
        if count > left {
            return Err(Fault::new(Problem::Truncated {
                needed: count,
                left,
            }));
        }
        self.position += count;
        Ok(())
    }

    /// Reads `N` bytes.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Fault> {
        let start = self.position;
        self.skip(N)?;
        let mut out = [0; N];
        if let Some(read) = self.bytes.get(start..start + N) {
            out.copy_from_slice(read);
        }
        Ok(out)
    }

    /// Reads one byte.
    fn byte(&mut self) -> Result<u8, Fault> {
        let [byte] = self.array::<1>()?;
        Ok(byte)
    }

    /// Reads a big-endian `int16`.
    fn int16(&mut self) -> Result<i16, Fault> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian `int32`.
    fn int32(&mut self) -> Result<i32, Fault> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// Reads an unsigned varint of at most `max_bytes` bytes whose last byte may use only
    /// `last_bits` bits (5 and 4 for 32 bits, 10 and 1 for 64 bits).
    fn varint(&mut self, max_bytes: u32, last_bits: u32) -> Result<u64, Fault> {
        let mut value = 0_u64;
        for index in 0..max_bytes {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            if index + 1 == max_bytes && bits >> last_bits != 0 {
                return Err(Fault::new(Problem::BadVarint));
            }
            value |= bits << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Fault::new(Problem::BadVarint))
    }

    /// Reads an unsigned 32-bit varint.
    fn uvarint(&mut self) -> Result<u64, Fault> {
        self.varint(5, 4)
    }

    /// Reads a length prefix: `Ok(None)` for null (refused unless `nullable`), else the length.
    fn length(&mut self, compact: bool, wide: bool, nullable: bool) -> Result<Option<u64>, Fault> {
        let raw = if compact {
            self.uvarint()?.checked_sub(1)
        } else {
            let length = if wide {
                self.int32()?
            } else {
                i32::from(self.int16()?)
            };
            match length {
                -1 => None,
                length if length < -1 => {
                    return Err(Fault::new(Problem::NegativeLength { length }));
                }
                length => Some(u64::from(length.unsigned_abs())),
            }
        };
        match raw {
            None if !nullable => Err(Fault::new(Problem::UnexpectedNull)),
            raw => Ok(raw),
        }
    }

    /// Steps over a string or bytes value.
    fn value(&mut self, what: Value, compact: bool, nullable: bool) -> Result<(), Fault> {
        let wide = what != Value::String;
        let Some(length) = self.length(compact, wide, nullable)? else {
            return Ok(());
        };
        let left = self.left();
        if length > left as u64 {
            return Err(Fault::new(Problem::ValueTooLong { what, length, left }));
        }
        if what == Value::String && length > MAX_STRING_BYTES {
            return Err(Fault::new(Problem::StringOverLimit { length }));
        }
        self.skip(usize::try_from(length).unwrap_or(usize::MAX))
    }

    /// Whether `field` uses compact encodings at this version.
    fn compact(&self, field: &Field) -> bool {
        match field.flexible {
            Some(versions) => versions.contains(self.version),
            None => self.flexible,
        }
    }

    /// Walks a struct: its fields in order, then its tagged fields if flexible.
    fn structure(&mut self, fields: &'static [Field], depth: usize) -> Result<(), Fault> {
        if depth > MAX_DEPTH {
            return Err(Fault::new(Problem::TooDeep));
        }
        for field in fields {
            if field.tag.is_none() && field.versions.contains(self.version) {
                self.field(field, depth)?;
            }
        }
        if self.flexible {
            self.tagged(fields, depth)?;
        }
        Ok(())
    }

    /// Walks one field.
    fn field(&mut self, field: &Field, depth: usize) -> Result<(), Fault> {
        let compact = self.compact(field);
        let nullable = field.nullable.contains(self.version);
        let walked = match field.kind {
            Kind::Struct(fields) => self.nested(fields, nullable, depth),
            Kind::Array(fields) => self.structs(fields, compact, nullable, depth),
            Kind::ScalarArray(kind) => self.scalars(kind, compact, nullable),
            scalar => self.scalar(scalar, compact, nullable),
        };
        walked.map_err(|fault| fault.in_field(field.name))
    }

    /// Steps over a value of a kind without fields.
    fn scalar(&mut self, kind: Kind, compact: bool, nullable: bool) -> Result<(), Fault> {
        match kind {
            Kind::VarInt | Kind::UnsignedVarInt => self.uvarint().map(drop),
            Kind::VarLong => self.varint(10, 1).map(drop),
            Kind::String => self.value(Value::String, compact, nullable),
            Kind::Bytes | Kind::Records => self.value(Value::Bytes, compact, nullable),
            other => self.skip(fixed_size(other).unwrap_or(0)),
        }
    }

    /// Walks a struct-valued field, null if its presence byte says so.
    fn nested(
        &mut self,
        fields: &'static [Field],
        nullable: bool,
        depth: usize,
    ) -> Result<(), Fault> {
        if nullable {
            match i8::from_be_bytes([self.byte()?]) {
                -1 => return Ok(()),
                1 => {}
                marker => return Err(Fault::new(Problem::BadMarker { marker })),
            }
        }
        self.structure(fields, depth + 1)
    }

    /// Reads an array count and checks that `count` elements of at least `min_each` bytes
    /// fit in what is left; `Ok(0)` for null.
    fn count(&mut self, compact: bool, nullable: bool, min_each: usize) -> Result<usize, Fault> {
        let Some(count) = self.length(compact, true, nullable)? else {
            return Ok(0);
        };
        let left = self.left();
        let fits = count
            .checked_mul(min_each.max(1) as u64)
            .is_some_and(|needed| needed <= left as u64);
        if !fits {
            return Err(Fault::new(Problem::ArrayTooLong {
                count,
                min_each: min_each.max(1),
                left,
            }));
        }
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    /// Walks an array of structs.
    fn structs(
        &mut self,
        fields: &'static [Field],
        compact: bool,
        nullable: bool,
        depth: usize,
    ) -> Result<(), Fault> {
        let min_each = self.min_struct_size(fields, depth + 1);
        let count = self.count(compact, nullable, min_each)?;
        let max = self.max_structs;
        self.structs_left = self
            .structs_left
            .checked_sub(count)
            .ok_or_else(|| Fault::new(Problem::TooManyStructs { max }))?;
        for index in 0..count {
            self.structure(fields, depth + 1)
                .map_err(|fault| fault.in_element(index))?;
        }
        Ok(())
    }

    /// Walks an array of non-struct elements.
    fn scalars(&mut self, kind: &Kind, compact: bool, nullable: bool) -> Result<(), Fault> {
        let kind = *kind;
        let count = self.count(compact, nullable, min_scalar_size(kind, compact))?;
        if let Some(size) = fixed_size(kind) {
            // `count` already checked: `count * size <= left`.
            return self.skip(count.saturating_mul(size));
        }
        for index in 0..count {
            self.scalar(kind, compact, false)
                .map_err(|fault| fault.in_element(index))?;
        }
        Ok(())
    }

    /// Walks a tagged-field section: each entry's value is walked by its schema when the tag
    /// is declared at this version (and must fill its size exactly), else skipped.
    fn tagged(&mut self, fields: &'static [Field], depth: usize) -> Result<(), Fault> {
        let count = self.uvarint()?;
        let left = self.left();
        if count.saturating_mul(2) > left as u64 {
            return Err(Fault::new(Problem::TooManyTags { count, left }));
        }
        for _ in 0..count {
            let tag = self.uvarint()?;
            let length = self.uvarint()?;
            let left = self.left();
            if length > left as u64 {
                return Err(Fault::new(Problem::ValueTooLong {
                    what: Value::TaggedField,
                    length,
                    left,
                }));
            }
            let size = usize::try_from(length).unwrap_or(usize::MAX);
            let declared = fields.iter().find(|field| {
                field.tag.is_some_and(|t| u64::from(t) == tag)
                    && field.versions.contains(self.version)
            });
            match declared {
                Some(field) => self.tagged_value(field, size, depth)?,
                None => self.skip(size)?,
            }
        }
        Ok(())
    }

    /// Walks a declared tagged field's value, which must take exactly `size` bytes.
    fn tagged_value(&mut self, field: &Field, size: usize, depth: usize) -> Result<(), Fault> {
        let start = self.position;
        let outer_end = self.end;
        self.end = start + size;
        let walked = self.field(field, depth);
        let used = self.position - start;
        self.end = outer_end;
        walked?;
        if used != size {
            let tag = field.tag.unwrap_or_default();
            return Err(Fault::new(Problem::TaggedFieldSize {
                tag,
                declared: size,
                used,
            })
            .in_field(field.name));
        }
        Ok(())
    }

    /// The fewest bytes a struct of `fields` takes at this version.
    fn min_struct_size(&self, fields: &'static [Field], depth: usize) -> usize {
        if depth > MAX_DEPTH {
            return 1;
        }
        let present = fields
            .iter()
            .filter(|field| field.tag.is_none() && field.versions.contains(self.version));
        let mut size = usize::from(self.flexible);
        for field in present {
            let compact = self.compact(field);
            size += match field.kind {
                Kind::Struct(_) if field.nullable.contains(self.version) => 1,
                Kind::Struct(inner) => self.min_struct_size(inner, depth + 1),
                Kind::Array(_) | Kind::ScalarArray(_) if compact => 1,
                Kind::Array(_) | Kind::ScalarArray(_) => 4,
                kind => min_scalar_size(kind, compact),
            };
        }
        size
    }
}

/// The size of a fixed-size kind.
fn fixed_size(kind: Kind) -> Option<usize> {
    match kind {
        Kind::Int8 | Kind::Bool => Some(1),
        Kind::Int16 | Kind::UInt16 => Some(2),
        Kind::Int32 | Kind::UInt32 => Some(4),
        Kind::Int64 | Kind::Float64 => Some(8),
        Kind::Uuid => Some(16),
        _ => None,
    }
}

/// The fewest bytes a value of a kind without fields takes.
fn min_scalar_size(kind: Kind, compact: bool) -> usize {
    match kind {
        Kind::String if !compact => 2,
        Kind::Bytes | Kind::Records if !compact => 4,
        Kind::Array(_) | Kind::ScalarArray(_) if !compact => 4,
        other => fixed_size(other).unwrap_or(1),
    }
}
