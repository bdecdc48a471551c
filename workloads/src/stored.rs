//! How the workloads' values are stored in systems that hold plain bytes (ZooKeeper znodes, NATS KV
//! entries): a register is a decimal integer, an append key a JSON array of integers.

use crate::client::ReadValue;

pub fn encode_int(v: i64) -> Vec<u8> {
    v.to_string().into_bytes()
}

pub fn encode_list(list: &[i64]) -> Vec<u8> {
    serde_json::to_vec(list).unwrap_or_default()
}

pub fn decode(bytes: &[u8]) -> Result<ReadValue, String> {
    serde_json::from_slice(bytes).map_err(|_| {
        format!(
            "value {:?} is not one this workload wrote",
            String::from_utf8_lossy(bytes)
        )
    })
}

/// The list an append extends: absent is empty, a register's integer is a list of one.
pub fn as_list(bytes: Option<&[u8]>) -> Result<Vec<i64>, String> {
    match bytes.map(decode).transpose()? {
        None => Ok(Vec::new()),
        Some(ReadValue::List(l)) => Ok(l),
        Some(ReadValue::Int(v)) => Ok(vec![v]),
        Some(ReadValue::Txn(_)) => Err("a stored value holds micro-ops, not a list".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_foreign_bytes_are_named() {
        assert_eq!(decode(&encode_int(7)), Ok(ReadValue::Int(7)));
        assert_eq!(
            decode(&encode_list(&[3, 7])),
            Ok(ReadValue::List(vec![3, 7]))
        );
        assert_eq!(as_list(None), Ok(vec![]));
        assert_eq!(as_list(Some(b"5")), Ok(vec![5]));
        assert!(decode(b"x").unwrap_err().contains("\"x\""));
    }
}
