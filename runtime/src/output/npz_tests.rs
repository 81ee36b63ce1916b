//! Tests of the `.npz` writer: the archive is read back by a small zip reader here,
//! and by Python's `zipfile` and NumPy where those are installed.

use std::process::Command;

use super::*;
use crate::output::npy::tests::parse_npy;

/// A member of a zip archive as read back from the central directory.
struct Member {
    name: String,
    data: Vec<u8>,
}

/// Reads a stored-only zip archive through its central directory, checking each
/// local header and CRC on the way.
fn read_zip(bytes: &[u8]) -> Vec<Member> {
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let end = bytes.len() - END_RECORD_LEN as usize;
    assert_eq!(u32_at(end), END_OF_CENTRAL_DIRECTORY_SIGNATURE);
    let count = usize::from(u16_at(end + 10));
    let mut at = u32_at(end + 16) as usize;
    let mut members = Vec::new();
    for _ in 0..count {
        assert_eq!(u32_at(at), CENTRAL_HEADER_SIGNATURE);
        let (method, crc, size) = (u16_at(at + 10), u32_at(at + 16), u32_at(at + 20) as usize);
        let name_len = usize::from(u16_at(at + 28));
        let name = String::from_utf8(bytes[at + 46..at + 46 + name_len].to_vec()).unwrap();
        let local = u32_at(at + 42) as usize;
        assert_eq!(method, 0, "stored");
        assert_eq!(u32_at(local), LOCAL_HEADER_SIGNATURE);
        assert_eq!(u32_at(local + 14), crc, "local and central CRC agree");
        let data_start = local + 30 + usize::from(u16_at(local + 26));
        let data = bytes[data_start..data_start + size].to_vec();
        assert_eq!(crc32(&data), crc, "{name}");
        members.push(Member { name, data });
        at += 46 + name_len;
    }
    members
}

fn f64s(bytes: &[u8]) -> Vec<f64> {
    bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn u32s(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn crc32_matches_the_standard_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
}

struct Example {
    exc: Vec<(u64, u32)>,
    inh: Vec<(u64, u32)>,
    neurons: Vec<u32>,
    times: Vec<f64>,
    values: Vec<f64>,
}

fn example() -> Example {
    Example {
        exc: vec![(5, 2), (1, 0), (5, 1)],
        inh: vec![],
        neurons: vec![0, 2],
        times: vec![0.0, 0.5, 1.0],
        values: vec![-65.0, -64.0, -63.0, -62.0, -61.0, -60.0],
    }
}

fn write_example(dir: &Path, data: &Example) -> PathBuf {
    let populations = [
        PopulationSpikes {
            population: "exc",
            spikes: &data.exc,
        },
        PopulationSpikes {
            population: "inh",
            spikes: &data.inh,
        },
    ];
    let traces = [TraceRecording {
        population: "exc",
        variable: "v",
        unit: "mV",
        neurons: &data.neurons,
        times_ms: &data.times,
        values: &data.values,
    }];
    write_results_npz(dir, "results.npz", &populations, &traces, 0.5).unwrap()
}

#[test]
fn archive_holds_the_documented_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let data = example();
    let path = write_example(dir.path(), &data);
    let members = read_zip(&std::fs::read(path).unwrap());
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "exc_times_ms.npy",
            "exc_neurons.npy",
            "inh_times_ms.npy",
            "inh_neurons.npy",
            "exc_v_time_ms.npy",
            "exc_v.npy",
            "exc_v_neurons.npy",
        ]
    );
    let array = |name: &str| parse_npy(&members.iter().find(|m| m.name == name).unwrap().data);
    let times = array("exc_times_ms.npy");
    assert!(times.dict.contains("'<f8'") && times.dict.contains("(3,)"));
    assert_eq!(f64s(&times.data), [0.5, 2.5, 2.5]);
    assert_eq!(u32s(&array("exc_neurons.npy").data), [0, 1, 2]);
    assert!(array("inh_neurons.npy").dict.contains("(0,)"));
    let samples = array("exc_v.npy");
    assert!(samples.dict.contains("'shape': (3, 2)"), "{}", samples.dict);
    assert_eq!(f64s(&samples.data), data.values);
    assert_eq!(u32s(&array("exc_v_neurons.npy").data), [0, 2]);
}

#[test]
fn colliding_entry_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Population "a_b" with variable "c" and population "a" with variable "b_c"
    // would both be stored as "a_b_c".
    let times = [0.0];
    let values = [1.0];
    let neurons = [0];
    let trace = |population, variable| TraceRecording {
        population,
        variable,
        unit: "",
        neurons: &neurons,
        times_ms: &times,
        values: &values,
    };
    let traces = [trace("a_b", "c"), trace("a", "b_c")];
    let result = write_results_npz(dir.path(), "r.npz", &[], &traces, 0.1);
    assert!(
        matches!(result, Err(OutputError::DuplicateEntry { ref name }) if name == "a_b_c_time_ms")
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Runs `script` with python3 and returns its output, or says why it could not
/// (python3 or the module that `module_check` imports is missing) and returns None.
fn python(script: &str, module_check: &str) -> Option<String> {
    let available = Command::new("python3").args(["-c", module_check]).output();
    match available {
        Ok(output) if output.status.success() => {}
        _ => {
            println!(
                "skipped: `python3 -c {module_check:?}` failed, so Python cannot check the file"
            );
            return None;
        }
    }
    let output = Command::new("python3")
        .args(["-c", script])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn python_zipfile_finds_a_valid_archive() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_example(dir.path(), &example());
    let script = format!(
        "import zipfile; z = zipfile.ZipFile({:?}); assert z.testzip() is None; print(len(z.namelist()))",
        path.display().to_string()
    );
    if let Some(stdout) = python(&script, "import zipfile") {
        assert_eq!(stdout.trim(), "7");
    }
}

#[test]
fn numpy_loads_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_example(dir.path(), &example());
    let script = format!(
        "import numpy as np\n\
         r = np.load({:?})\n\
         assert r['exc_v'].shape == (3, 2) and r['exc_v'].dtype == np.float64\n\
         assert r['exc_v'][1, 0] == -63.0\n\
         assert r['exc_neurons'].dtype == np.uint32 and list(r['exc_neurons']) == [0, 1, 2]\n\
         assert list(r['exc_times_ms']) == [0.5, 2.5, 2.5]\n\
         assert r['inh_times_ms'].shape == (0,)\n\
         print(sorted(r.files))",
        path.display().to_string()
    );
    if let Some(stdout) = python(&script, "import numpy") {
        assert!(stdout.contains("'exc_v_time_ms'"), "{stdout}");
    }
}

#[test]
fn numpy_loads_a_single_npy_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::output::OutputDir::create(dir.path(), false).unwrap();
    let values = [1.5f32, -2.0, 3.25, 0.0, 7.0, 8.0];
    let array = NpyArray::new(vec![2, 3], NpyData::F32(&values)).unwrap();
    let path = out.write_npy("v.npy", &array).unwrap();
    let script = format!(
        "import numpy as np\n\
         a = np.load({:?})\n\
         assert a.dtype == np.float32 and a.shape == (2, 3)\n\
         print(a[0, 2], a[1, 0])",
        path.display().to_string()
    );
    if let Some(stdout) = python(&script, "import numpy") {
        assert_eq!(stdout.trim(), "3.25 0.0");
    }
}
