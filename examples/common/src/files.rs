//! Small files written atomically.

use std::path::Path;

use serde::Serialize;

use crate::Error;

/// Writes `value` as pretty JSON to `path` atomically ([`rnn_io::atomic::write_file`]): a
/// reader sees the previous file or the new one, never a part.
///
/// # Errors
/// [`Error::Run`] naming the file if it cannot be written.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).expect("serializable");
    rnn_io::atomic::write_file(path, text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_json_round_trips_and_names_the_file_it_cannot_write() {
        let dir = std::env::temp_dir().join(format!("rnn-example-json-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.json");
        write_json(&path, &vec![(1, 0.5)]).unwrap();
        let back: Vec<(u32, f64)> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back, [(1, 0.5)]);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );

        let err = write_json(&dir.join("missing/metrics.json"), &1).unwrap_err();
        assert!(
            matches!(&err, Error::Run(m) if m.contains("metrics.json")),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
