//! Flow datasets in CSV form: UNSW-NB15, NSL-KDD, CIC-IDS2017 and generic labelled numeric CSV.
