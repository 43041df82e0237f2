-- The ratings database of the compose profile `mysql` (the same as the
-- ConfigMap of k8s/bookinfo-mysql.yaml): the two ratings the page shows.
CREATE DATABASE IF NOT EXISTS test;
USE test;
CREATE TABLE ratings (
  ReviewID INT NOT NULL PRIMARY KEY,
  Rating INT
);
INSERT INTO ratings (ReviewID, Rating) VALUES (1, 5), (2, 4);
