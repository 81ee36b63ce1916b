//! `.npz` archives: a zip file of `.npy` arrays, what `numpy.load` returns as a
//! dict-like `NpzFile`.
//!
//! [`write_results_npz`] stores, for every population `<pop>`:
//!
//! - `<pop>_times_ms` (`float64`) and `<pop>_neurons` (`uint32`): its spikes in
//!   time order (ties by neuron index), `times_ms = step × dt_ms`;
//!
//! and for every recorded variable `<var>` of it:
//!
//! - `<pop>_<var>_time_ms` (`float64`, shape `[time]`): the sample times;
//! - `<pop>_<var>` (`float64`, shape `[time, neuron]`): the samples;
//! - `<pop>_<var>_neurons` (`uint32`, shape `[neuron]`): which neuron each column is.
//!
//! Entries are *stored* (no compression), like `numpy.savez`, so writing is as fast
//! as the disk. The plain zip format is written, without zip64: archives are
//! limited to 4 GiB and 65 535 entries, and larger results are refused with
//! [`OutputError::TooLargeForZip`] before anything is written. Zip timestamps are
//! fixed at 1980-01-01 so that equal results give byte-identical files.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::atomic::write_atomically;
use super::error::{OutputError, check_name};
use super::npy::{NpyArray, NpyData};
use super::spikes::spikes_in_time_order;
use super::{PopulationSpikes, TraceRecording};

/// Local file header signature, `PK\x03\x04`.
const LOCAL_HEADER_SIGNATURE: u32 = 0x0403_4b50;
/// Central directory header signature, `PK\x01\x02`.
const CENTRAL_HEADER_SIGNATURE: u32 = 0x0201_4b50;
/// End of central directory signature, `PK\x05\x06`.
const END_OF_CENTRAL_DIRECTORY_SIGNATURE: u32 = 0x0605_4b50;
/// Version 2.0 of the zip specification: enough for stored entries.
const ZIP_VERSION: u16 = 20;
/// MS-DOS date of 1980-01-01, the earliest a zip file can say.
const DOS_DATE_1980: u16 = (1 << 5) | 1;
/// Bytes of a local header without the name.
const LOCAL_HEADER_LEN: u64 = 30;
/// Bytes of a central directory header without the name.
const CENTRAL_HEADER_LEN: u64 = 46;
/// Bytes of the end-of-central-directory record.
const END_RECORD_LEN: u64 = 22;

/// One array of an archive: `name` without the `.npy` suffix.
#[derive(Debug, Clone)]
pub struct NpzEntry<'a> {
    /// The key under which `numpy.load` shows the array.
    pub name: String,
    /// The array.
    pub array: NpyArray<'a>,
}

/// Writes `dir/file_name` atomically with the spikes and traces laid out as in the
/// module docs.
pub fn write_results_npz(
    dir: &Path,
    file_name: &str,
    populations: &[PopulationSpikes<'_>],
    traces: &[TraceRecording<'_>],
    dt_ms: f64,
) -> Result<PathBuf, OutputError> {
    for population in populations {
        check_name(population.population)?;
    }
    for trace in traces {
        trace.check()?;
    }
    // Spike times and neurons are computed here; the arrays below borrow them.
    let mut spike_columns: Vec<(Vec<f64>, Vec<u32>)> =
        vec![(Vec::new(), Vec::new()); populations.len()];
    for (step, population, neuron) in spikes_in_time_order(populations) {
        spike_columns[population].0.push(step as f64 * dt_ms);
        spike_columns[population].1.push(neuron);
    }
    let mut entries = Vec::new();
    for (population, (times, neurons)) in populations.iter().zip(&spike_columns) {
        let name = population.population;
        entries.push(entry(format!("{name}_times_ms"), NpyData::F64(times)));
        entries.push(entry(format!("{name}_neurons"), NpyData::U32(neurons)));
    }
    for trace in traces {
        let prefix = format!("{}_{}", trace.population, trace.variable);
        entries.push(entry(
            format!("{prefix}_time_ms"),
            NpyData::F64(trace.times_ms),
        ));
        let shape = vec![trace.times_ms.len(), trace.neurons.len()];
        let samples = NpyArray::new(shape, NpyData::F64(trace.values))?;
        entries.push(NpzEntry {
            name: prefix.clone(),
            array: samples,
        });
        entries.push(entry(
            format!("{prefix}_neurons"),
            NpyData::U32(trace.neurons),
        ));
    }
    write_npz(dir, file_name, &entries)
}

/// Writes `dir/file_name` atomically as an archive of `entries`.
pub fn write_npz(
    dir: &Path,
    file_name: &str,
    entries: &[NpzEntry<'_>],
) -> Result<PathBuf, OutputError> {
    let mut names = HashSet::new();
    for entry in entries {
        if !names.insert(entry.name.as_str()) {
            return Err(OutputError::DuplicateEntry {
                name: entry.name.clone(),
            });
        }
    }
    if archive_len(entries) > u64::from(u32::MAX) || entries.len() > usize::from(u16::MAX) {
        return Err(OutputError::TooLargeForZip {
            path: dir.join(file_name),
        });
    }
    write_atomically(dir, file_name, |writer| write_zip(writer, entries))
}

fn entry(name: String, data: NpyData<'_>) -> NpzEntry<'_> {
    NpzEntry {
        name,
        array: NpyArray::vector(data),
    }
}

/// The size of the archive, computed before writing so that the 32-bit limits of
/// plain zip can be checked up front.
fn archive_len(entries: &[NpzEntry<'_>]) -> u64 {
    let per_entry: u64 = entries
        .iter()
        .map(|entry| {
            let name = member_name(&entry.name).len() as u64;
            LOCAL_HEADER_LEN + CENTRAL_HEADER_LEN + 2 * name + entry.array.file_len() as u64
        })
        .sum();
    per_entry + END_RECORD_LEN
}

fn member_name(name: &str) -> String {
    format!("{name}.npy")
}

/// Writes a zip archive of stored `.npy` members. Each member is serialised once
/// into memory because its CRC and size precede its data in the local header.
fn write_zip(writer: &mut impl Write, entries: &[NpzEntry<'_>]) -> io::Result<()> {
    let mut central_directory = Vec::new();
    let mut offset: u32 = 0;
    for entry in entries {
        let name = member_name(&entry.name);
        let mut bytes = Vec::with_capacity(entry.array.file_len());
        entry.array.write_to(&mut bytes)?;
        let crc = crc32(&bytes);
        // archive_len checked that every size and offset fits 32 bits.
        let size = bytes.len() as u32;

        let mut local = Vec::with_capacity(LOCAL_HEADER_LEN as usize + name.len());
        put_u32(&mut local, LOCAL_HEADER_SIGNATURE);
        put_member_fields(&mut local, crc, size, &name);
        put_u16(&mut local, 0); // extra field length
        local.extend_from_slice(name.as_bytes());
        writer.write_all(&local)?;
        writer.write_all(&bytes)?;

        put_u32(&mut central_directory, CENTRAL_HEADER_SIGNATURE);
        put_u16(&mut central_directory, ZIP_VERSION); // made by
        put_member_fields(&mut central_directory, crc, size, &name);
        for field in [0u16; 5] {
            // extra and comment lengths, disk number, internal and external attributes
            put_u16(&mut central_directory, field);
        }
        put_u16(&mut central_directory, 0); // high half of external attributes
        put_u32(&mut central_directory, offset);
        central_directory.extend_from_slice(name.as_bytes());

        offset += (local.len() + bytes.len()) as u32;
    }
    writer.write_all(&central_directory)?;
    let mut end = Vec::with_capacity(END_RECORD_LEN as usize);
    put_u32(&mut end, END_OF_CENTRAL_DIRECTORY_SIGNATURE);
    put_u16(&mut end, 0); // this disk
    put_u16(&mut end, 0); // disk with the central directory
    put_u16(&mut end, entries.len() as u16); // entries on this disk
    put_u16(&mut end, entries.len() as u16); // entries in all
    put_u32(&mut end, central_directory.len() as u32);
    put_u32(&mut end, offset);
    put_u16(&mut end, 0); // comment length
    writer.write_all(&end)
}

/// The fields that the local and central headers share, from "version needed"
/// to the name length.
fn put_member_fields(out: &mut Vec<u8>, crc: u32, size: u32, name: &str) {
    put_u16(out, ZIP_VERSION); // version needed to extract
    put_u16(out, 0); // flags
    put_u16(out, 0); // method: stored
    put_u16(out, 0); // modification time 00:00:00
    put_u16(out, DOS_DATE_1980);
    put_u32(out, crc);
    put_u32(out, size); // compressed size
    put_u32(out, size); // uncompressed size
    put_u16(out, name.len() as u16);
}

fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// The CRC-32 of zip (IEEE 802.3, reflected polynomial 0xEDB88320), by table.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut index = 0;
        while index < 256 {
            let mut crc = index as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
                bit += 1;
            }
            table[index] = crc;
            index += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |crc, &byte| {
        TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8)
    })
}

#[cfg(test)]
#[path = "npz_tests.rs"]
mod tests;
