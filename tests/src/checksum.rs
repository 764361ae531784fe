//! Per-table row counts and order-independent checksums, computed from MariaDB and from
//! landed Parquet, in one canonical form, so an end-to-end run can prove the landing zone holds
//! exactly the database's values; and a check of the landed Parquet types against the MySQL →
//! Parquet mapping AWS documents.
//!
//! This module has its own type table ([`aws_type`]), written from AWS's documentation and
//! independent of the export stand-in, so a wrong mapping in the stand-in cannot change both
//! sides alike:
//! <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.data-types.html>
//! ("MySQL and MariaDB data type mapping to Parquet").
//!
//! Canonical values depend on the value, not on its Parquet representation (the type check
//! judges the representation): integers and decimals as MySQL prints them, doubles through
//! `f64`'s `Debug`, dates as `YYYY-MM-DD` (AWS writes them as strings; an INT32 DATE reads the
//! same), datetimes as microseconds since the epoch, text and binary as text when the bytes are
//! UTF-8 and as `x<hex>` otherwise, NULL (and MySQL zero dates, which RDS exports as NULL) as
//! `\N`.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{NaiveDate, NaiveDateTime};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};
use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as PhysicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::schema::types::ColumnDescriptor;

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

/// Bytes of the smallest two's-complement integer holding `precision` decimal digits.
fn decimal_bytes(precision: u32) -> u32 {
    let max = 10u128.pow(precision.min(38)) - 1;
    (1..=16).find(|n| max < 1u128 << (8 * n - 1)).unwrap_or(16)
}

/// AWS's MySQL/MariaDB → Parquet mapping, in AWS's notation (`INT64`, `BYTE_ARRAY STRING`,
/// `FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,0)`, …), from `information_schema.COLUMNS`
/// (`DATA_TYPE`, `COLUMN_TYPE`, `NUMERIC_PRECISION`, `NUMERIC_SCALE`); `None` for a type the
/// table does not list. The rows of AWS's table:
/// - BIGINT INT64; BIGINT UNSIGNED FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,0); BIT BYTE_ARRAY.
/// - DECIMAL and NUMERIC: INT32 DECIMAL(p,s) "if the source value is less than 2^31", INT64
///   below 2^63, FIXED_LEN_BYTE_ARRAY(N) beyond, BYTE_ARRAY STRING above precision 38. A
///   column has one type, so this reads the value bounds as precision bounds: p ≤ 9, p ≤ 18,
///   p ≤ 38 (N the fewest bytes for p digits: 9 for 20 digits, as for BIGINT UNSIGNED).
/// - DOUBLE and FLOAT DOUBLE; INT INT32; INT UNSIGNED INT64; MEDIUMINT INT32; MEDIUMINT
///   UNSIGNED INT64; SMALLINT and SMALLINT UNSIGNED INT32; TINYINT INT32; TINYINT UNSIGNED
///   INT32 INT(16,true). No BOOLEAN: TINYINT(1) (MySQL's BOOL) is a TINYINT, INT32.
/// - BINARY, BLOB, CHAR, LINESTRING, LONGBLOB, MEDIUMBLOB, MULTILINESTRING, TINYBLOB,
///   VARBINARY BYTE_ARRAY; ENUM, LONGTEXT, MEDIUMTEXT, SET, TEXT, TINYTEXT, VARCHAR
///   BYTE_ARRAY STRING (CHAR has no STRING annotation in AWS's table).
/// - DATE BYTE_ARRAY STRING ("a date is converted to a string"); DATETIME and TIMESTAMP
///   INT64 TIMESTAMP_MICROS; TIME BYTE_ARRAY STRING; YEAR INT32.
/// - GEOMETRY, GEOMETRYCOLLECTION, MULTIPOINT, MULTIPOLYGON, POINT, POLYGON BYTE_ARRAY.
/// - JSON BYTE_ARRAY STRING (MariaDB's JSON is a LONGTEXT).
pub fn aws_type(data_type: &str, column_type: &str, precision: u32, scale: u32) -> Option<String> {
    let unsigned = column_type.to_ascii_lowercase().contains("unsigned");
    let t = match (data_type.to_ascii_lowercase().as_str(), unsigned) {
        ("bigint", false) => "INT64",
        ("bigint", true) => "FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,0)",
        ("decimal" | "numeric", _) => {
            let decimal = format!("DECIMAL({precision},{scale})");
            return Some(match precision {
                0..=9 => format!("INT32 {decimal}"),
                10..=18 => format!("INT64 {decimal}"),
                19..=38 => format!(
                    "FIXED_LEN_BYTE_ARRAY({}) {decimal}",
                    decimal_bytes(precision)
                ),
                _ => "BYTE_ARRAY STRING".to_string(),
            });
        }
        ("double" | "float" | "real", _) => "DOUBLE",
        ("int" | "integer" | "mediumint", false) => "INT32",
        ("int" | "integer" | "mediumint", true) => "INT64",
        ("smallint" | "year", _) | ("tinyint", false) => "INT32",
        ("tinyint", true) => "INT32 INT(16,true)",
        (
            "bit" | "binary" | "varbinary" | "char" | "tinyblob" | "blob" | "mediumblob"
            | "longblob" | "geometry" | "geometrycollection" | "point" | "multipoint"
            | "linestring" | "multilinestring" | "polygon" | "multipolygon",
            _,
        ) => "BYTE_ARRAY",
        (
            "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set" | "json"
            | "date" | "time",
            _,
        ) => "BYTE_ARRAY STRING",
        ("datetime" | "timestamp", _) => "INT64 TIMESTAMP_MICROS",
        _ => return None,
    };
    Some(t.to_string())
}

/// One column of a MariaDB table, as `information_schema.COLUMNS` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlColumn {
    pub name: String,
    pub data_type: String,
    pub column_type: String,
    pub precision: u32,
    pub scale: u32,
}

impl MysqlColumn {
    pub fn aws_type(&self) -> Option<String> {
        aws_type(
            &self.data_type,
            &self.column_type,
            self.precision,
            self.scale,
        )
    }
}

/// How a MySQL text-protocol value is made canonical.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Canon {
    Double,
    Date,
    Timestamp,
    Bytes,
}

fn canon_of(column: &MysqlColumn) -> Canon {
    let aws = column.aws_type().unwrap_or_default();
    if column.data_type.eq_ignore_ascii_case("date") {
        Canon::Date
    } else if aws == "DOUBLE" {
        Canon::Double
    } else if aws.ends_with("TIMESTAMP_MICROS") {
        Canon::Timestamp
    } else {
        Canon::Bytes
    }
}

const NULL: &str = "\\N";
const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();

/// Bytes as text when they are UTF-8, else `x<hex>`: text and binary columns compare by
/// their bytes whichever Parquet representation carried them.
fn canonical_bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => format!(
            "x{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    }
}

fn canonical_mysql(canon: Canon, v: &Value) -> String {
    let bytes = match v {
        Value::NULL => return NULL.into(),
        Value::Bytes(b) => b.clone(),
        other => other.as_sql(true).trim_matches('\'').as_bytes().to_vec(),
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match canon {
        Canon::Bytes => canonical_bytes(&bytes),
        Canon::Double => format!("{:?}", text.parse::<f64>().expect("double")),
        Canon::Date => match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(d) => d.format("%Y-%m-%d").to_string(),
            Err(_) => NULL.into(),
        },
        Canon::Timestamp => {
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
        Field::Bytes(b) => canonical_bytes(b.data()),
        Field::Date(d) => (EPOCH + chrono::Duration::days(*d as i64))
            .format("%Y-%m-%d")
            .to_string(),
        Field::TimestampMicros(t) => format!("t{t}"),
        Field::TimestampMillis(t) => format!("t{}", t * 1000),
        other => format!("{other:?}"),
    }
}

/// The columns of every base table of `database`, keyed `<db>.<table>`.
pub async fn mariadb_columns(
    conn: &mut Conn,
    database: &str,
) -> BTreeMap<String, Vec<MysqlColumn>> {
    type ColumnRow = (String, String, String, String, Option<u64>, Option<u64>);
    let rows: Vec<ColumnRow> = conn
        .exec(
            "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.NUMERIC_PRECISION, c.NUMERIC_SCALE
             FROM information_schema.COLUMNS c JOIN information_schema.TABLES t
               ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
             WHERE c.TABLE_SCHEMA = ? AND t.TABLE_TYPE = 'BASE TABLE'
             ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
            (database,),
        )
        .await
        .unwrap();
    let mut out: BTreeMap<String, Vec<MysqlColumn>> = BTreeMap::new();
    for (table, name, data_type, column_type, p, s) in rows {
        out.entry(format!("{database}.{table}"))
            .or_default()
            .push(MysqlColumn {
                name,
                data_type,
                column_type,
                precision: p.unwrap_or(0) as u32,
                scale: s.unwrap_or(0) as u32,
            });
    }
    out
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
    let columns = mariadb_columns(conn, database).await;
    let mut out = BTreeMap::new();
    for table in tables {
        let key = format!("{database}.{table}");
        let canons: Vec<Canon> = columns
            .get(&key)
            .into_iter()
            .flatten()
            .map(canon_of)
            .collect();
        let rows: Vec<Row> = conn
            .query(format!(
                "SELECT * FROM `{}`.`{}`",
                database.replace('`', "``"),
                table.replace('`', "``")
            ))
            .await
            .unwrap();
        let mut sum = TableSum::default();
        for row in rows {
            let values: Vec<String> = canons
                .iter()
                .enumerate()
                .map(|(i, c)| canonical_mysql(*c, row.as_ref(i).unwrap_or(&Value::NULL)))
                .collect();
            sum.add(&values);
        }
        out.insert(key, sum);
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

/// A landed column's type in AWS's notation, for comparison with [`aws_type`].
pub fn parquet_type(col: &ColumnDescriptor) -> String {
    let physical = match col.physical_type() {
        PhysicalType::FIXED_LEN_BYTE_ARRAY => {
            format!("FIXED_LEN_BYTE_ARRAY({})", col.type_length())
        }
        other => other.to_string(),
    };
    let logical = match (col.logical_type_ref(), col.converted_type()) {
        (_, ConvertedType::DECIMAL) | (Some(LogicalType::Decimal(_)), _) => {
            format!(" DECIMAL({},{})", col.type_precision(), col.type_scale())
        }
        (Some(LogicalType::String), _) | (_, ConvertedType::UTF8) => " STRING".to_string(),
        (Some(LogicalType::Timestamp(t)), _) if matches!(t.unit, TimeUnit::MICROS) => {
            " TIMESTAMP_MICROS".to_string()
        }
        (_, ConvertedType::TIMESTAMP_MICROS) => " TIMESTAMP_MICROS".to_string(),
        (Some(LogicalType::Integer(i)), _) => format!(" INT({},{})", i.bit_width, i.is_signed),
        (None, ConvertedType::NONE) => String::new(),
        (Some(LogicalType::Date), _) | (_, ConvertedType::DATE) => " DATE".to_string(),
        (logical, converted) => format!(" {logical:?}/{converted:?}"),
    };
    physical + &logical
}

/// Where a landed file's columns differ from the types AWS documents for `columns` (the
/// table's MariaDB columns, in order): one line per column, empty when all agree.
pub fn schema_mismatches(columns: &[MysqlColumn], file: &bytes::Bytes) -> Vec<String> {
    let reader = SerializedFileReader::new(file.clone()).expect("landed file is Parquet");
    let schema = reader.metadata().file_metadata().schema_descr();
    if schema.num_columns() != columns.len() {
        return vec![format!(
            "{} Parquet columns for {} MariaDB columns",
            schema.num_columns(),
            columns.len()
        )];
    }
    let mut out = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        let want = column.aws_type();
        let got = parquet_type(&schema.column(i));
        if want.as_deref() != Some(got.as_str()) {
            let want = want.unwrap_or_else(|| "a type AWS's table does not list".to_string());
            let (name, ty) = (&column.name, &column.column_type);
            out.push(format!(
                "{name} ({ty}): AWS writes {want}, the file has {got}"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(data_type: &str, column_type: &str, p: u32, s: u32) -> MysqlColumn {
        MysqlColumn {
            name: "c".into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            precision: p,
            scale: s,
        }
    }

    #[test]
    fn decimals_print_like_mysql() {
        assert_eq!(decimal_string(299, 2), "2.99");
        assert_eq!(decimal_string(-1, 2), "-0.01");
        assert_eq!(decimal_string(99999999, 2), "999999.99");
        assert_eq!(decimal_string(5, 0), "5");
    }

    #[test]
    fn canonical_forms_agree_across_sides() {
        let m = |c, s: &str| canonical_mysql(c, &Value::Bytes(s.as_bytes().to_vec()));
        let p = canonical_parquet;
        let cases = [
            (m(Canon::Date, "1970-01-11"), p(&Field::Date(10))),
            // AWS writes a DATE as a string: the same canonical value.
            (
                m(Canon::Date, "1970-01-11"),
                p(&Field::Str("1970-01-11".into())),
            ),
            (m(Canon::Date, "0000-00-00"), p(&Field::Null)),
            (
                m(Canon::Timestamp, "1970-01-01 00:00:01.5"),
                p(&Field::TimestampMicros(1_500_000)),
            ),
            (m(Canon::Double, "-1e10"), p(&Field::Double(-1e10))),
            (m(Canon::Bytes, "-7"), p(&Field::Int(-7))),
            // Text and binary compare by their bytes, whichever representation carries them.
            (
                m(Canon::Bytes, "AB12 CDE"),
                p(&Field::Bytes(b"AB12 CDE".to_vec().into())),
            ),
            (
                canonical_mysql(Canon::Bytes, &Value::Bytes(vec![0, 0xff])),
                "x00ff".into(),
            ),
        ];
        for (mysql, parquet) in cases {
            assert_eq!(mysql, parquet);
        }
    }

    #[test]
    fn maps_mysql_types_as_aws_documents() {
        // COLUMN_TYPE | NUMERIC_PRECISION | NUMERIC_SCALE | AWS's Parquet type
        let cases = [
            "bigint(20) unsigned|20|0|FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,0)",
            "bigint(20)|19|0|INT64",
            "decimal(5,2)|5|2|INT32 DECIMAL(5,2)",
            "decimal(18,4)|18|4|INT64 DECIMAL(18,4)",
            "decimal(20,0)|20|0|FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,0)",
            "numeric(38,10)|38|10|FIXED_LEN_BYTE_ARRAY(16) DECIMAL(38,10)",
            "decimal(65,2)|65|2|BYTE_ARRAY STRING",
            "tinyint(1)|3|0|INT32",
            "tinyint(3) unsigned|3|0|INT32 INT(16,true)",
            "int(10) unsigned|10|0|INT64",
            "mediumint(8) unsigned|7|0|INT64",
            "smallint(5) unsigned|5|0|INT32",
            "float|12|0|DOUBLE",
            "date|0|0|BYTE_ARRAY STRING",
            "time|0|0|BYTE_ARRAY STRING",
            "datetime(3)|0|0|INT64 TIMESTAMP_MICROS",
            "timestamp|0|0|INT64 TIMESTAMP_MICROS",
            "year(4)|0|0|INT32",
            "bit(1)|1|0|BYTE_ARRAY",
            "enum('a','b')|0|0|BYTE_ARRAY STRING",
            "set('a','b')|0|0|BYTE_ARRAY STRING",
            "json|0|0|BYTE_ARRAY STRING",
            "longtext|0|0|BYTE_ARRAY STRING",
            "blob|0|0|BYTE_ARRAY",
            "char(20)|0|0|BYTE_ARRAY",
            "geometry|0|0|BYTE_ARRAY",
            "inet6|0|0|-",
        ];
        for case in cases {
            let f: Vec<&str> = case.split('|').collect();
            let data_type = f[0].split(['(', ' ']).next().unwrap();
            let (p, s) = (f[1].parse().unwrap(), f[2].parse().unwrap());
            let got = aws_type(data_type, f[0], p, s);
            assert_eq!(got.as_deref().unwrap_or("-"), f[3], "{case}");
        }
        let canons = [
            (col("date", "date", 0, 0), Canon::Date),
            (col("float", "float", 12, 0), Canon::Double),
            (col("datetime", "datetime", 0, 0), Canon::Timestamp),
            (col("bigint", "bigint unsigned", 20, 0), Canon::Bytes),
        ];
        for (c, want) in canons {
            assert_eq!(canon_of(&c), want, "{c:?}");
        }
    }

    #[test]
    fn reads_landed_types_in_aws_notation() {
        use parquet::schema::{parser::parse_message_type, types::SchemaDescriptor};
        let schema = parse_message_type(
            "message m { required fixed_len_byte_array(9) a (DECIMAL(20,0));
             optional binary b (UTF8); required int64 c (TIMESTAMP(MICROS,true));
             required int32 d (INTEGER(16,true)); optional binary e; required double f;
             required int32 g (DECIMAL(5,2)); required int32 h (DATE); }",
        )
        .unwrap();
        let descr = SchemaDescriptor::new(std::sync::Arc::new(schema));
        let got: Vec<String> = (0..8).map(|i| parquet_type(&descr.column(i))).collect();
        let want = [
            "FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,0)",
            "BYTE_ARRAY STRING",
            "INT64 TIMESTAMP_MICROS",
            "INT32 INT(16,true)",
            "BYTE_ARRAY",
            "DOUBLE",
            "INT32 DECIMAL(5,2)",
            "INT32 DATE",
        ];
        assert_eq!(got, want);
    }
}
