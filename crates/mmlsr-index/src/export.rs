//! Export to the formats other engines read:
//!
//! - JSONL, one document per line, `{"id": "...", "vector": {"token": weight, ...}}`: the
//!   input of Seismic and of Anserini's `JsonVectorCollection` (weights as floats; engines that
//!   want integers quantise on ingest).
//! - CIFF (Lin et al., "Supporting Interoperability Between Open-Source Search Engines with the
//!   Common Index File Format", SIGIR 2020), read by PISA, Anserini and BMP: a `Header`, then
//!   one `PostingsList` per term (postings with gap-encoded doc ids; the quantised impact is
//!   the "tf", as for learned sparse indexes), then one `DocRecord` per document, each message
//!   length-delimited protobuf. Encoded by hand (the schema is four small messages).

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use mmlsr_core::CsrMatrix;

use crate::{Error, Impact, InvertedIndex, Result};

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    mmlsr_core::atomic::write_with(path, fill).map_err(io(path))
}

fn check_names(ids: &[String], tokens: &[String], rows: usize, cols: usize) -> Result<()> {
    if ids.len() != rows || tokens.len() != cols {
        return Err(Error::Config(format!(
            "{} ids for {rows} rows and {} tokens for {cols} columns",
            ids.len(),
            tokens.len()
        )));
    }
    Ok(())
}

/// Write sparse vectors as JSONL `{"id", "vector": {token: weight}}`.
pub fn write_jsonl(
    path: &Path,
    ids: &[String],
    vectors: &CsrMatrix,
    tokens: &[String],
) -> Result<()> {
    check_names(ids, tokens, vectors.n_rows(), vectors.n_cols())?;
    atomic(path, |w| {
        for (id, row) in ids.iter().zip(vectors.rows()) {
            write!(w, "{{\"id\":{},\"vector\":{{", serde_json::to_string(id)?)?;
            for (n, (&t, &x)) in row.indices.iter().zip(row.values).enumerate() {
                let sep = if n == 0 { "" } else { "," };
                write!(
                    w,
                    "{sep}{}:{x}",
                    serde_json::to_string(&tokens[t as usize])?
                )?;
            }
            writeln!(w, "}}}}")?;
        }
        Ok(())
    })
}

fn varint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn field_varint(out: &mut Vec<u8>, field: u32, x: u64) {
    varint(out, (field as u64) << 3);
    varint(out, x);
}

fn field_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    varint(out, ((field as u64) << 3) | 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn field_double(out: &mut Vec<u8>, field: u32, x: f64) {
    varint(out, ((field as u64) << 3) | 1);
    out.extend_from_slice(&x.to_le_bytes());
}

fn delimited(w: &mut dyn Write, msg: &[u8]) -> std::io::Result<()> {
    let mut len = Vec::with_capacity(5);
    varint(&mut len, msg.len() as u64);
    w.write_all(&len)?;
    w.write_all(msg)
}

impl<I: Impact> InvertedIndex<I> {
    /// Write the index as CIFF: postings lists in token order (terms without postings are
    /// left out), impacts as term frequencies, document length = sum of its impacts. CIFF
    /// document ids are the index's positions, so a reordered index ([`crate::DocOrder`])
    /// hands its order on; each `DocRecord` names the document at that position (`doc_ids`
    /// are in the given order).
    pub fn write_ciff(
        &self,
        path: &Path,
        doc_ids: &[String],
        tokens: &[String],
        description: &str,
    ) -> Result<()> {
        check_names(doc_ids, tokens, self.n_docs(), self.vocab_size())?;
        let mut terms: Vec<u32> = (0..self.vocab_size() as u32)
            .filter(|&t| !self.postings(t).0.is_empty())
            .collect();
        terms.sort_by(|a, b| tokens[*a as usize].cmp(&tokens[*b as usize]));
        let mut doc_len = vec![0u64; self.n_docs()];
        for t in 0..self.vocab_size() as u32 {
            let (d, imp) = self.postings(t);
            for (&d, &i) in d.iter().zip(imp) {
                doc_len[d as usize] += i.get() as u64;
            }
        }
        let total: u64 = doc_len.iter().sum();
        atomic(path, |w| {
            let mut m = Vec::new();
            field_varint(&mut m, 1, 1); // version
            field_varint(&mut m, 2, terms.len() as u64);
            field_varint(&mut m, 3, self.n_docs() as u64);
            field_varint(&mut m, 4, terms.len() as u64);
            field_varint(&mut m, 5, self.n_docs() as u64);
            field_varint(&mut m, 6, total);
            field_double(&mut m, 7, total as f64 / self.n_docs().max(1) as f64);
            field_bytes(&mut m, 8, description.as_bytes());
            delimited(w, &m)?;
            let mut p = Vec::new();
            for &t in &terms {
                let (docs, imps) = self.postings(t);
                m.clear();
                field_bytes(&mut m, 1, tokens[t as usize].as_bytes());
                field_varint(&mut m, 2, docs.len() as u64);
                field_varint(&mut m, 3, imps.iter().map(|&i| i.get() as u64).sum());
                let mut prev = 0u32;
                for (&d, &i) in docs.iter().zip(imps) {
                    p.clear();
                    field_varint(&mut p, 1, (d - prev) as u64);
                    field_varint(&mut p, 2, i.get() as u64);
                    field_bytes(&mut m, 4, &p);
                    prev = d;
                }
                delimited(w, &m)?;
            }
            for (d, len) in doc_len.iter().enumerate() {
                let id = &doc_ids[self.doc_id(d as u32) as usize];
                m.clear();
                field_varint(&mut m, 1, d as u64);
                field_bytes(&mut m, 2, id.as_bytes());
                field_varint(&mut m, 3, *len);
                delimited(w, &m)?;
            }
            Ok(())
        })
    }
}

/// A CIFF file read back: postings by token (doc ids absolute), and document records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ciff {
    /// `num_docs` from the header.
    pub num_docs: u64,
    /// Postings lists, in file order.
    pub postings: Vec<CiffList>,
    /// Document records, in file order.
    pub docs: Vec<CiffDoc>,
}

/// One CIFF postings list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CiffList {
    /// The token.
    pub term: String,
    /// `(doc, tf)` pairs, doc ids absolute and increasing.
    pub postings: Vec<CiffPosting>,
}

/// One CIFF posting: a document and the term's frequency in it (here: its impact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CiffPosting {
    /// Document id (its position in the collection).
    pub doc: u32,
    /// Term frequency (the quantised impact).
    pub tf: u32,
}

/// One CIFF document record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CiffDoc {
    /// Document id.
    pub docid: u32,
    /// The collection's own id (`imgid`).
    pub collection_id: String,
    /// Document length (sum of its term frequencies).
    pub length: u64,
}

struct Reader<'a> {
    b: &'a [u8],
    o: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> std::result::Result<u64, String> {
        let mut x = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.o).ok_or("truncated varint")?;
            self.o += 1;
            x |= ((byte & 0x7f) as u64) << shift;
            if byte < 0x80 {
                return Ok(x);
            }
        }
        Err("varint too long".into())
    }
    fn bytes(&mut self) -> std::result::Result<&[u8], String> {
        let n = self.varint()? as usize;
        let end = self
            .o
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or("truncated message")?;
        let s = &self.b[self.o..end];
        self.o = end;
        Ok(s)
    }
    /// Fields of one message: (field number, varint value or bytes).
    fn fields(msg: &[u8]) -> std::result::Result<Vec<(u32, u64, Vec<u8>)>, String> {
        let mut r = Reader { b: msg, o: 0 };
        let mut out = Vec::new();
        while r.o < msg.len() {
            let key = r.varint()?;
            let (field, wire) = ((key >> 3) as u32, key & 7);
            match wire {
                0 => out.push((field, r.varint()?, Vec::new())),
                1 => {
                    let end = r.o + 8;
                    let v = msg.get(r.o..end).ok_or("truncated double")?;
                    r.o = end;
                    out.push((
                        field,
                        u64::from_le_bytes(v.try_into().expect("8")),
                        Vec::new(),
                    ));
                }
                2 => out.push((field, 0, r.bytes()?.to_vec())),
                w => return Err(format!("unsupported wire type {w}")),
            }
        }
        Ok(out)
    }
}

/// Read a CIFF file (as written by [`InvertedIndex::write_ciff`] or another engine).
pub fn read_ciff(path: &Path) -> Result<Ciff> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let fmt = |m: String| Error::Format {
        path: PathBuf::from(path),
        message: format!("CIFF: {m}"),
    };
    let mut r = Reader { b: &bytes, o: 0 };
    let header = Reader::fields(r.bytes().map_err(fmt)?).map_err(fmt)?;
    let get = |f: &[(u32, u64, Vec<u8>)], n: u32| f.iter().find(|x| x.0 == n).map_or(0, |x| x.1);
    let (n_lists, n_docs) = (get(&header, 2), get(&header, 3));
    let mut ciff = Ciff {
        num_docs: n_docs,
        ..Default::default()
    };
    for _ in 0..n_lists {
        let f = Reader::fields(r.bytes().map_err(fmt)?).map_err(fmt)?;
        let term = f
            .iter()
            .find(|x| x.0 == 1)
            .map(|x| String::from_utf8_lossy(&x.2).into_owned());
        let mut doc = 0u32;
        let mut list = Vec::new();
        for (_, _, p) in f.iter().filter(|x| x.0 == 4) {
            let pf = Reader::fields(p).map_err(fmt)?;
            doc += get(&pf, 1) as u32;
            list.push(CiffPosting {
                doc,
                tf: get(&pf, 2) as u32,
            });
        }
        ciff.postings.push(CiffList {
            term: term.unwrap_or_default(),
            postings: list,
        });
    }
    for _ in 0..n_docs {
        let f = Reader::fields(r.bytes().map_err(fmt)?).map_err(fmt)?;
        let id = f
            .iter()
            .find(|x| x.0 == 2)
            .map(|x| String::from_utf8_lossy(&x.2).into_owned());
        ciff.docs.push(CiffDoc {
            docid: get(&f, 1) as u32,
            collection_id: id.unwrap_or_default(),
            length: get(&f, 3),
        });
    }
    if r.o != bytes.len() {
        return Err(fmt(format!(
            "{} bytes after the last document record",
            bytes.len() - r.o
        )));
    }
    Ok(ciff)
}
