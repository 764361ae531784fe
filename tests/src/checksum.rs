//! Per-table row counts and order-independent checksums, computed from MariaDB and from
//! landed Parquet, in one canonical form, so an end-to-end run can prove the landing zone holds
//! exactly the database's values.
//!
//! Canonical values: integers and decimals as MySQL prints them, doubles through `f64`'s
//! `Debug`, dates as days since 1970-01-01, datetimes as microseconds since the epoch,
//! text as is, binary as hex, NULL (and MySQL zero dates, which RDS exports as NULL) as `\N`.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{NaiveDate, NaiveDateTime};
use liberator_fixtures::export_local::{Kind, kind_of};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

/// Rows and checksum of one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableSum {
    pub rows: u64,
    pub checksum: u64,
}

impl TableSum {
    fn add(&mut self, values: &[String]) {
        let mut h = DefaultHasher::new();
        values.hash(&mut h);
        self.rows += 1;
        self.checksum = self.checksum.wrapping_add(h.finish());
    }
}

const NULL: &str = "\\N";
const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn canonical_mysql(kind: Kind, v: &Value) -> String {
    let bytes = match v {
        Value::NULL => return NULL.into(),
        Value::Bytes(b) => b.clone(),
        other => other.as_sql(true).trim_matches('\'').as_bytes().to_vec(),
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match kind {
        Kind::Binary => hex(&bytes),
        Kind::Double => format!("{:?}", text.parse::<f64>().expect("double")),
        Kind::Date => match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(d) => format!("d{}", (d - EPOCH).num_days()),
            Err(_) => NULL.into(),
        },
        Kind::Timestamp => {
            let fmt = if text.contains('.') {
                "%Y-%m-%d %H:%M:%S%.f"
            } else {
                "%Y-%m-%d %H:%M:%S"
            };
            match NaiveDateTime::parse_from_str(&text, fmt) {
                Ok(t) => format!("t{}", t.and_utc().timestamp_micros()),
                Err(_) => NULL.into(),
            }
        }
        _ => text,
    }
}

fn decimal_string(unscaled: i128, scale: i32) -> String {
    if scale <= 0 {
        return unscaled.to_string();
    }
    let neg = unscaled < 0;
    let digits = format!(
        "{:0>width$}",
        unscaled.unsigned_abs(),
        width = scale as usize + 1
    );
    let (int, frac) = digits.split_at(digits.len() - scale as usize);
    format!("{}{int}.{frac}", if neg { "-" } else { "" })
}

fn canonical_parquet(f: &Field) -> String {
    match f {
        Field::Null => NULL.into(),
        Field::Bool(b) => (*b as u8).to_string(),
        Field::Byte(x) => x.to_string(),
        Field::Short(x) => x.to_string(),
        Field::Int(x) => x.to_string(),
        Field::Long(x) => x.to_string(),
        Field::UByte(x) => x.to_string(),
        Field::UShort(x) => x.to_string(),
        Field::UInt(x) => x.to_string(),
        Field::ULong(x) => x.to_string(),
        Field::Float(x) => format!("{:?}", *x as f64),
        Field::Double(x) => format!("{x:?}"),
        Field::Decimal(d) => {
            let data = d.data();
            let mut v: i128 = if data.first().is_some_and(|b| b & 0x80 != 0) {
                -1
            } else {
                0
            };
            for b in data {
                v = (v << 8) | *b as i128;
            }
            decimal_string(v, d.scale())
        }
        Field::Str(s) => s.clone(),
        Field::Bytes(b) => hex(b.data()),
        Field::Date(d) => format!("d{d}"),
        Field::TimestampMicros(t) => format!("t{t}"),
        Field::TimestampMillis(t) => format!("t{}", t * 1000),
        other => format!("{other:?}"),
    }
}

/// Rows and checksums of every base table of `database`, keyed `<db>.<table>`.
pub async fn mariadb_sums(conn: &mut Conn, database: &str) -> BTreeMap<String, TableSum> {
    let tables: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
            (database,),
        )
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for table in tables {
        let cols: Vec<(String, String, Option<u64>, Option<u64>)> = conn
            .exec(
                "SELECT DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE FROM information_schema.COLUMNS
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (database, &table),
            )
            .await
            .unwrap();
        let kinds: Vec<Kind> = cols
            .iter()
            .map(|(dt, ct, p, s)| {
                kind_of(
                    &dt.to_lowercase(),
                    &ct.to_lowercase(),
                    p.unwrap_or(0) as u32,
                    s.unwrap_or(0) as u32,
                )
            })
            .collect();
        let rows: Vec<Row> = conn
            .query(format!("SELECT * FROM `{database}`.`{table}`"))
            .await
            .unwrap();
        let mut sum = TableSum::default();
        for row in rows {
            let values: Vec<String> = kinds
                .iter()
                .enumerate()
                .map(|(i, k)| canonical_mysql(*k, row.as_ref(i).unwrap_or(&Value::NULL)))
                .collect();
            sum.add(&values);
        }
        out.insert(format!("{database}.{table}"), sum);
    }
    out
}

/// Adds one landed Parquet file's rows to `sums[table]`.
pub fn add_parquet(sums: &mut BTreeMap<String, TableSum>, table: &str, file: bytes::Bytes) {
    let reader = SerializedFileReader::new(file).expect("landed file is Parquet");
    let sum = sums.entry(table.to_string()).or_default();
    for row in reader.get_row_iter(None).expect("row iterator") {
        let row = row.expect("row");
        let values: Vec<String> = row
            .get_column_iter()
            .map(|(_, f)| canonical_parquet(f))
            .collect();
        sum.add(&values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_like_mysql() {
        assert_eq!(decimal_string(299, 2), "2.99");
        assert_eq!(decimal_string(-1, 2), "-0.01");
        assert_eq!(decimal_string(99999999, 2), "999999.99");
        assert_eq!(decimal_string(5, 0), "5");
    }

    #[test]
    fn canonical_forms_agree_across_sides() {
        let b = |s: &str| Value::Bytes(s.as_bytes().to_vec());
        assert_eq!(
            canonical_mysql(Kind::Date, &b("1970-01-11")),
            canonical_parquet(&Field::Date(10))
        );
        assert_eq!(
            canonical_mysql(Kind::Date, &b("0000-00-00")),
            canonical_parquet(&Field::Null)
        );
        assert_eq!(
            canonical_mysql(Kind::Timestamp, &b("1970-01-01 00:00:01.5")),
            canonical_parquet(&Field::TimestampMicros(1_500_000))
        );
        assert_eq!(
            canonical_mysql(Kind::Double, &b("-1e10")),
            canonical_parquet(&Field::Double(-1e10))
        );
        assert_eq!(
            canonical_mysql(Kind::Int32, &b("-7")),
            canonical_parquet(&Field::Int(-7))
        );
    }
}
